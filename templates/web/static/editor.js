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
