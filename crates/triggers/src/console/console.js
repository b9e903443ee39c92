// drbook's console. A job's page follows its lines live: each line arrives
// as an event of the job's stream (after the last one the page rendered)
// and is added as text, never as markup. The fabric's page refreshes its
// protected items from the API every few seconds, cell by cell as text.
"use strict";

// How often the fabric's page asks for its items again, in milliseconds.
const FABRIC_EVERY = 3000;

function followLines() {
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
}

// A protected item's cells, as the page's rows show them (console.rs's
// `fabric`): the API's values are its enums' names, as the page prints them.
function itemCells(item) {
  const region = item.activeLocation === "Primary" ? item.primaryRegion : item.recoveryRegion;
  return [
    item.name,
    `${region} (${item.activeLocation})`,
    item.protectionState,
    item.replicationHealth,
    item.failoverHealth,
    item.rpoSeconds === null || item.rpoSeconds === undefined ? "" : String(item.rpoSeconds),
    item.allowedOperations.join(", "),
  ];
}

function refreshFabric() {
  const table = document.getElementById("items");
  if (!table) {
    return;
  }
  const body = table.tBodies[0];
  const refreshed = document.getElementById("refreshed");
  const refresh = async () => {
    try {
      const answer = await fetch(table.dataset.source, { headers: { Accept: "application/json" } });
      if (!answer.ok) {
        refreshed.textContent = `Not refreshed: the server answered ${answer.status}`;
        return;
      }
      const items = await answer.json();
      const rows = items.map((item) => {
        const row = document.createElement("tr");
        itemCells(item).forEach((text, i) => {
          const cell = document.createElement("td");
          if (i === 0) {
            cell.className = "vm";
          }
          cell.textContent = text;
          row.appendChild(cell);
        });
        return row;
      });
      body.replaceChildren(...rows);
      refreshed.textContent = `As of ${new Date().toISOString()}`;
    } catch (e) {
      refreshed.textContent = `Not refreshed: ${e}`;
    }
  };
  setInterval(refresh, FABRIC_EVERY);
}

document.addEventListener("DOMContentLoaded", () => {
  followLines();
  refreshFabric();
});
