// Progressive enhancement for the editor; every page works without it.
// A campaign page that is sending (or due) refreshes its progress from the JSON API: the
// counts, the progress bar, the current rate (measured between two of its own readings, the
// server gives the average since sending started) with the time left, and the delivery errors.
"use strict";
(function () {
  const box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) return;
  const url = box.getAttribute("data-progress-url");
  const status = box.getAttribute("data-status");
  let last = null; // { at: milliseconds, settled: count } of the previous reading

  function words(seconds) {
    if (seconds < 60) return "under a minute";
    let minutes = Math.round(seconds / 60);
    if (minutes < 60) return "about " + minutes + (minutes === 1 ? " minute" : " minutes");
    const hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    let text = "about " + hours + (hours === 1 ? " hour" : " hours");
    if (minutes) text += " " + minutes + (minutes === 1 ? " minute" : " minutes");
    return text;
  }

  function perSecond(rate) {
    return rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString();
  }

  function showProgress(progress) {
    const bar = box.querySelector("[data-progress-bar]");
    if (bar) { bar.max = progress.total; bar.value = progress.settled; }
    const line = box.querySelector("[data-progress-text]");
    if (!line) return;
    let text = progress.settled.toLocaleString() + " of " + progress.total.toLocaleString() +
      " settled (" + Math.round(progress.percent) + " %)";
    const now = Date.now();
    if (last && now > last.at && progress.waiting > 0) {
      const rate = (progress.settled - last.settled) * 1000 / (now - last.at);
      if (rate > 0) {
        text += " · " + perSecond(rate) + " a second now · " +
          words(progress.waiting / rate) + " left";
      } else {
        text += " · waiting: nothing settled in the last " + Math.round((now - last.at) / 1000) + " s";
      }
    } else if (progress.rate_per_second) {
      text += " · " + perSecond(progress.rate_per_second) +
        " a second on average since sending started · " + progress.time_left + " left";
    }
    line.textContent = text;
    last = { at: now, settled: progress.settled };
  }

  function showProblems(problems) {
    const holder = box.querySelector("[data-problems]");
    if (!holder || !problems.length) return;
    const heading = document.createElement("h3");
    heading.textContent = "Delivery errors";
    const list = document.createElement("ul");
    list.className = "problems";
    for (const problem of problems) {
      const item = document.createElement("li");
      const reason = document.createElement("code");
      reason.textContent = problem.error;
      item.append(problem.count.toLocaleString() + " " + problem.status + ": ", reason);
      list.append(item);
    }
    holder.replaceChildren(heading, list);
  }

  async function poll() {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!answer.ok) return;
      const campaign = await answer.json();
      if (campaign.status !== status) { window.location.reload(); return; }
      for (const cell of box.querySelectorAll("[data-count]")) {
        const value = campaign.counts[cell.getAttribute("data-count")] || 0;
        (cell.querySelector("a") || cell).textContent = value.toLocaleString();
      }
      const total = box.querySelector("[data-total]");
      if (total) total.textContent = Object.values(campaign.counts).reduce((a, b) => a + b, 0).toLocaleString();
      if (campaign.progress) showProgress(campaign.progress);
      showProblems(campaign.problems || []);
    } catch (error) {
      // The page still shows the counts it was served with; a reload brings new ones.
    }
    window.setTimeout(poll, 3000);
  }
  window.setTimeout(poll, 3000);
})();

// The campaign form's brief and segment tables: drag a row by its handle to reorder, as well
// as typing numbers (the number boxes stay, for keyboards and without script). With script
// the chosen rows are shown in their numbered order first; after a drag, the ticked rows are
// numbered 1, 2, 3 … in the order they are shown.
(function () {
  for (const table of document.querySelectorAll("table[data-reorder]")) {
    const body = table.tBodies[0];
    if (!body || !window.PointerEvent) continue;
    const rows = () => Array.from(body.rows);
    const box = (row) => row.querySelector('input[type="number"]');
    const ticked = (row) => row.querySelector('input[type="checkbox"]').checked;
    const position = (row) => parseInt(box(row).value, 10) || Number.MAX_SAFE_INTEGER;
    const chosen = rows().filter(ticked).sort((a, b) => position(a) - position(b));
    for (const row of chosen.reverse()) body.insertBefore(row, body.firstChild);
    let dragged = false;
    // The handle is hidden from assistive technology (keyboards use the number boxes), but
    // a drop is still announced, for a screen reader user who moved a row by touch.
    const said = document.createElement("p");
    said.className = "sr";
    said.setAttribute("role", "status");
    said.setAttribute("aria-live", "polite");
    table.after(said);
    function renumber() {
      let next = 1;
      for (const row of rows()) box(row).value = ticked(row) ? String(next++) : "";
    }
    function announce(row) {
      const label = row.querySelector("label") || row.cells[0];
      const name = label.textContent.replace("⠿", "").trim().replace(/\s+/g, " ");
      const at = rows().indexOf(row) + 1;
      const number = box(row).value;
      said.textContent = number
        ? `${name}: now number ${number}, row ${at} of ${rows().length}.`
        : `${name}: moved to row ${at} of ${rows().length}; not chosen.`;
    }
    for (const row of rows()) {
      const handle = document.createElement("button");
      handle.type = "button";
      handle.className = "drag";
      handle.textContent = "⠿";
      handle.title = "Drag to move";
      handle.tabIndex = -1; // keyboards use the number boxes
      handle.setAttribute("aria-hidden", "true");
      row.cells[0].prepend(handle);
      row.querySelector('input[type="checkbox"]').addEventListener("change", () => {
        if (dragged) renumber();
      });
      handle.addEventListener("pointerdown", (start) => {
        start.preventDefault();
        row.classList.add("dragging");
        // Listened for on the document: moving the row in the table ends a pointer capture.
        const move = (event) => {
          const target = rows().find((other) => {
            const rect = other.getBoundingClientRect();
            return event.clientY >= rect.top && event.clientY < rect.bottom;
          });
          if (event.pointerId !== start.pointerId || !target || target === row) return;
          const rect = target.getBoundingClientRect();
          const below = event.clientY >= rect.top + rect.height / 2;
          body.insertBefore(row, below ? target.nextSibling : target);
        };
        const stop = (event) => {
          if (event.pointerId !== start.pointerId) return;
          row.classList.remove("dragging");
          document.removeEventListener("pointermove", move);
          document.removeEventListener("pointerup", stop);
          document.removeEventListener("pointercancel", stop);
          dragged = true;
          renumber();
          announce(row);
        };
        document.addEventListener("pointermove", move);
        document.addEventListener("pointerup", stop);
        document.addEventListener("pointercancel", stop);
      });
    }
    const hint = table.closest("fieldset") && table.closest("fieldset").querySelector("p.hint");
    if (hint) hint.append(" Or drag a row by its ⠿ handle: the ticked ones are numbered in the order shown.");
  }
})();

// The brief form: "Add a fact" (a source, a narrative) copies a blank row instead of posting
// the form back; the forecast fields show only for a forecast narrative (or when filled in);
// and the preview frame follows the form as one types: half a second after the last change
// the form is posted into a fresh frame (fresh, so previews do not pile up in the history;
// the answer is the email document under its own strict policy, never a script of ours).
(function () {
  const form = document.querySelector("form[data-live-preview]");
  if (!form) return;
  const previewButton = form.querySelector("button[data-preview]");
  const next = {};
  for (const holder of form.querySelectorAll("[data-rows]")) {
    next[holder.getAttribute("data-rows")] = holder.children.length;
  }

  function renumber(holder) {
    let number = 1;
    for (const row of holder.children) {
      const label = row.querySelector("[data-number]");
      if (label) label.textContent = String(number++);
    }
  }

  function showForecast(row) {
    const kind = row.querySelector("select[data-kind]");
    const box = row.querySelector("[data-forecast]");
    if (!kind || !box) return;
    const filled = Array.from(box.querySelectorAll("input, textarea")).some((f) => f.value.trim());
    box.hidden = kind.value !== "forecast" && !filled;
  }

  for (const row of form.querySelectorAll('[data-row="narratives"]')) showForecast(row);
  form.addEventListener("change", (event) => {
    if (event.target.matches("select[data-kind]")) showForecast(event.target.closest("[data-row]"));
  });

  for (const button of form.querySelectorAll("button[data-add]")) {
    button.addEventListener("click", (event) => {
      const kind = button.getAttribute("data-add");
      const template = form.querySelector('template[data-template="' + kind + '"]');
      const holder = form.querySelector('[data-rows="' + kind + '"]');
      if (!template || !holder) return;
      event.preventDefault();
      const index = String(next[kind]++);
      const row = template.content.querySelector("[data-row]").cloneNode(true);
      for (const element of [row, ...row.querySelectorAll("*")]) {
        for (const name of ["id", "name", "for", "aria-describedby"]) {
          const value = element.getAttribute(name);
          if (value) element.setAttribute(name, value.split("__i__").join(index));
        }
      }
      if (kind === "sources") {
        const numbers = Array.from(holder.querySelectorAll('input[name$="-number"]'))
          .map((input) => parseInt(input.value, 10)).filter((n) => n > 0);
        row.querySelector('input[name$="-number"]').value = String(Math.max(0, ...numbers) + 1);
      }
      holder.append(row);
      renumber(holder);
      showForecast(row);
      const first = row.querySelector("textarea, input:not([type=hidden]):not([name$='-number'])");
      if (first) first.focus();
    });
  }

  if (!previewButton) return;
  let timer = null;
  function preview() {
    const frame = document.querySelector('iframe[name="' + previewButton.getAttribute("formtarget") + '"]');
    if (frame) {
      const fresh = frame.cloneNode(false);
      fresh.removeAttribute("src");
      frame.replaceWith(fresh);
    }
    if (form.requestSubmit) form.requestSubmit(previewButton);
    else previewButton.click();
  }
  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 500);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // A form shown again after a post (problems, a refused save, a row added) holds what was
  // typed, not what the frame shows: preview it at once.
  if (form.hasAttribute("data-typed")) preview();
})();
