// drbook's console. A job's page follows its lines live: each line arrives
// as an event of the job's stream (after the last one the page rendered)
// and is added as text, never as markup; its summary, its manual step's
// form and its progress (the VMs' table, the timeline) are renewed from the
// page itself, rendered again by the server, while the job runs. The
// fabric's page refreshes its
// protected items from the API every few seconds, cell by cell as text.
"use strict";

// How often the fabric's page asks for its items again, in milliseconds.
const FABRIC_EVERY = 3000;

// How often a running job's page renews its progress, at most and at
// least, in milliseconds: soon after a line, and now and then without one
// (a job waiting for a person writes nothing).
const PROGRESS_SOON = 500;
const PROGRESS_EVERY = 3000;

// Renews the job's status, its decision and its progress from its page as
// the server renders it now. The decision's form is replaced only when a
// step starts or stops waiting, so that a comment being typed stays.
async function renewJob() {
  const answer = await fetch(location.pathname, { headers: { Accept: "text/html" } });
  if (!answer.ok) {
    return;
  }
  const now = new DOMParser().parseFromString(await answer.text(), "text/html");
  const renew = (id, when) => {
    const [shown, fresh] = [document.getElementById(id), now.getElementById(id)];
    if (shown && fresh && when(shown, fresh)) {
      shown.replaceWith(document.adoptNode(fresh));
    }
  };
  renew("summary", () => true);
  renew("decision", (shown, fresh) => shown.childElementCount !== fresh.childElementCount);
  renew("progress", () => true);
}

function followLines() {
  const list = document.getElementById("lines");
  if (!list || list.dataset.ended === "true") {
    return;
  }
  let soon = null;
  const renewSoon = () => {
    if (soon === null) {
      soon = setTimeout(() => {
        soon = null;
        renewJob().catch(() => {});
      }, PROGRESS_SOON);
    }
  };
  const every = setInterval(renewSoon, PROGRESS_EVERY);
  // On a reconnect the browser sends Last-Event-ID, which wins over `after`.
  const source = new EventSource(`${list.dataset.events}?after=${list.dataset.after}`);
  source.addEventListener("line", (event) => {
    renewSoon();
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
    clearInterval(every);
    renewJob().catch(() => {});
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
