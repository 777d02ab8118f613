// Live updates of the event page: long-polls /ui/events/feed and puts new
// events on top. The page works without this script (reload to refresh).
(function () {
  "use strict";
  var body = document.getElementById("events");
  if (!body || !window.fetch) { return; }
  var status = document.getElementById("live-status");
  var after = body.getAttribute("data-after") || "0";
  var delay = 1000;

  function cell(text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function add(ev) {
    var empty = body.querySelector("tr.empty");
    if (empty) { empty.remove(); }
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(ev.seq));
    tr.className = "fresh";
    tr.appendChild(cell(String(ev.seq)));
    tr.appendChild(cell(ev.time));
    tr.appendChild(cell(ev.type));
    tr.appendChild(cell(ev.subject, ev.link));
    tr.appendChild(cell(ev.actor));
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > 200) { body.deleteRow(body.rows.length - 1); }
  }

  function poll() {
    fetch("/ui/events/feed?after=" + encodeURIComponent(after), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (page) {
        page.events.forEach(add);
        after = String(page.next_after);
        body.setAttribute("data-after", after);
        if (status) { status.textContent = "Newest first. Live: new events appear on top."; }
        delay = 1000;
        poll();
      })
      .catch(function (err) {
        if (status) { status.textContent = "Live updates paused (" + err.message + "); reload the page."; }
        if (err.message === "signed out") { return; }
        delay = Math.min(delay * 2, 30000);
        setTimeout(poll, delay);
      });
  }
  poll();
})();
