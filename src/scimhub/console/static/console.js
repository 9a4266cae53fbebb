// scimhub console: copy buttons and the live event list. Everything else works without JavaScript.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

document.querySelectorAll("button[data-copy]").forEach((button) => { button.hidden = false; });

// <tbody data-live="URL" data-after="SEQ">: new events are fetched as JSON and prepended as rows.
function startLive(body) {
  let after = Number(body.dataset.after || 0);
  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const poll = async () => {
    if (document.hidden) { setTimeout(poll, 2000); return; }  // a background tab asks nothing
    try {
      const response = await fetch(`${body.dataset.live}?after=${after}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const page = await response.json();
        for (const e of page.events) {
          const row = document.createElement("tr");
          row.append(cell(String(e.seq), "num"), cell(e.type), cell(e.resource, "mono small when"), cell(e.summary), cell(e.at, "muted when"));
          body.prepend(row);
          const empty = body.querySelector("td.empty");
          if (empty) empty.parentElement.remove();
        }
        after = page.next_after;
      }
    } catch (_) { /* the next poll tries again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
  const status = document.getElementById("live-status");
  if (status) status.hidden = false;
}

document.querySelectorAll("tbody[data-live]").forEach(startLive);
