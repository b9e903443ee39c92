// drbook's console: a job's page follows its lines live. Each line arrives
// as an event of the job's stream (after the last one the page rendered)
// and is added as text, never as markup.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("lines");
  if (!list || list.dataset.ended === "true") {
    return;
  }
  // On a reconnect the browser sends Last-Event-ID, which wins over `after`.
  const source = new EventSource(`${list.dataset.events}?after=${list.dataset.after}`);
  source.addEventListener("line", (event) => {
    const line = JSON.parse(event.data);
    const item = document.createElement("li");
    item.className = line.record.stream;
    item.dataset.seq = line.seq;
    item.textContent = line.record.text;
    list.appendChild(item);
  });
  source.addEventListener("end", (event) => {
    const end = JSON.parse(event.data);
    const status = document.getElementById("status");
    status.textContent = end.status;
    status.className = `status ${end.status}`;
    document.getElementById("end").textContent = end.reason || "";
    source.close();
  });
});
