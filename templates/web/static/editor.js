// Progressive enhancement for the editor; every page works without it.
// A campaign page that is sending (or due) refreshes its progress counts from the JSON API.
"use strict";
(function () {
  const box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) return;
  const url = box.getAttribute("data-progress-url");
  const status = box.getAttribute("data-status");
  async function poll() {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!answer.ok) return;
      const campaign = await answer.json();
      if (campaign.status !== status) { window.location.reload(); return; }
      for (const cell of box.querySelectorAll("[data-count]")) {
        const value = campaign.counts[cell.getAttribute("data-count")] || 0;
        cell.textContent = value.toLocaleString();
      }
      const total = box.querySelector("[data-total]");
      if (total) total.textContent = Object.values(campaign.counts).reduce((a, b) => a + b, 0).toLocaleString();
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
    function renumber() {
      let next = 1;
      for (const row of rows()) box(row).value = ticked(row) ? String(next++) : "";
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
