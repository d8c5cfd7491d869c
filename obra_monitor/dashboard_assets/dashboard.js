/* obra-monitor dashboard: draws the figures of the JSON in #dashboard-data.
 *
 * Everything from the log is put into the page with textContent or drawn on a
 * canvas by Chart.js: never parsed as HTML. The page loads nothing (its
 * Content-Security-Policy says so); Chart.js is embedded before this script.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  var COLORS = {
    events: "#9dbce6", errors: "#c62828", failed: "#e08a00",
    p50: "#1f5fbf", p95: "#e08a00", p99: "#c62828",
    intent: "#1f5fbf", stage: "#7b61c4", stageErrors: "#c62828", histogram: "#4c8fd6",
    good: "#2e8b46", warn: "#d19a00", bad: "#c62828", grid: "#e6e9ef", ink: "#5b6576"
  };
  var DASH = "\u2013";
  var MAX_BARS = 12;  // categories per bar chart: the most frequent (the tables and analyze have all)
  var charts = [];

  if (window.Chart) {
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.color = COLORS.ink;
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
  }

  // -- helpers ----------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function isNum(x) { return typeof x === "number" && isFinite(x); }
  function fmtInt(n) { return isNum(n) ? Math.round(n).toLocaleString("en-US") : DASH; }
  function fmtPct(x) { return isNum(x) ? (x * 100).toFixed(1) + "%" : DASH; }
  function fmtMs(x) {
    if (!isNum(x)) return DASH;
    return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1);
  }
  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }
  function plural(n, word) { return fmtInt(n) + " " + word + (n === 1 ? "" : "s"); }
  function fmtConf(x) { return isNum(x) ? x.toFixed(3) : DASH; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function parseTime(text) {
    if (typeof text !== "string") return null;
    var t = Date.parse(text);
    return isNaN(t) ? null : new Date(t);
  }

  function fmtTime(text) {
    var d = parseTime(text);
    if (!d) return text === null || text === undefined ? DASH : String(text);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  function fmtSlot(text, stepHours) {
    var d = parseTime(text);
    if (!d) return String(text);
    var day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    return stepHours >= 24 ? day : day + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function label(text) {
    text = String(text);
    return text.length > 32 ? text.slice(0, 31) + "\u2026" : text;
  }

  // Keep the first MAX_BARS rows (they come most frequent first) and say so in the chart's caption.
  function capped(id, rows) {
    var note = document.getElementById(id).closest("figure").querySelector(".cap");
    note.textContent = rows.length > MAX_BARS ? " (the " + MAX_BARS + " most frequent of " + rows.length + ")" : "";
    return rows.slice(0, MAX_BARS);
  }

  function shortSession(session) {
    return session === null || session === undefined ? DASH : String(session).slice(0, 8);
  }

  function rateClass(rate, good, warn, higherIsBetter) {
    if (!isNum(rate)) return "";
    if (higherIsBetter) return rate >= good ? "good" : rate >= warn ? "warn" : "bad";
    return rate <= good ? "good" : rate <= warn ? "warn" : "bad";
  }

  function entries(object) {
    return Object.keys(object || {}).map(function (key) { return [key, object[key]]; });
  }

  // -- header, notes, switch ----------------------------------------------------

  function renderHeader() {
    var source = DATA.source;
    var files = source.files.length;
    document.getElementById("source").textContent =
      source.path + "  \u00b7  " + files + " file" + (files === 1 ? "" : "s") + ", " +
      fmtBytes(source.bytes) + "  \u00b7  generated " + fmtTime(DATA.generated_at) + " UTC";
    var notes = document.getElementById("notes");
    var add = function (text) {
      if (!notes.firstChild) notes.appendChild(el("div", "note"));
      notes.firstChild.appendChild(el("div", "", text));
    };
    if (DATA.filter.since) add("Only events since " + fmtTime(DATA.filter.since) + " UTC (--since).");
    if (DATA.older_events) {
      add(fmtInt(DATA.older_events) + " events older than 30 days before the newest event are in no view " +
          "(obra-monitor analyze reads them all).");
    }
    if (DATA.newer_events) {
      add(fmtInt(DATA.newer_events) + " events newer than the newest one at the start were written while " +
          "the page was being made; they are not included.");
    }
    if (DATA.untimed_events && !DATA.empty) add(fmtInt(DATA.untimed_events) + " events have no readable time; they are in no view.");
    if (source.malformed_lines) add(fmtInt(source.malformed_lines) + " malformed lines were skipped.");
    document.getElementById("footer").textContent =
      "obra-monitor dashboard \u00b7 every figure is the one obra-monitor analyze gives for the same window " +
      "(--since the view's start) \u00b7 times in UTC \u00b7 charts by Chart.js (MIT), embedded: this page loads nothing.";
  }

  function renderSwitch(current) {
    var box = document.getElementById("views");
    clear(box);
    DATA.views.forEach(function (view) {
      var button = el("button", "", view.key);
      button.type = "button";
      button.title = view.label;
      button.dataset.view = view.key;
      button.setAttribute("aria-pressed", view.key === current ? "true" : "false");
      button.addEventListener("click", function () { showView(view.key); });
      box.appendChild(button);
    });
  }

  // -- tiles --------------------------------------------------------------------

  function tile(label, value, sub, tone) {
    var node = el("div", "tile" + (tone ? " " + tone : ""));
    node.appendChild(el("div", "label", label));
    node.appendChild(el("div", "value", value));
    node.appendChild(el("div", "sub", sub || "\u00a0"));
    return node;
  }

  function renderTiles(view) {
    var s = view.summary;
    var box = document.getElementById("tiles");
    clear(box);
    var decided = s.execution.succeeded + s.execution.failed;
    var nl = s.latency_ms.nl;
    var latencySub = plural(nl.count, "NL result");
    [
      tile("events", fmtInt(s.events.total), plural(s.turns, "turn")),
      tile("sessions", fmtInt(s.sessions.count), fmtInt(s.sessions.with_failures) + " with failures"),
      tile("commands", fmtInt(s.execution.total), "executed, " + fmtInt(s.execution.failed) + " failed"),
      tile("success rate", fmtPct(s.execution.success_rate), fmtInt(s.execution.succeeded) + " of " + fmtInt(decided),
           rateClass(s.execution.success_rate, 0.95, 0.8, true)),
      tile("NL latency P50", fmtMs(nl.p50) + (isNum(nl.p50) ? " ms" : ""), latencySub),
      tile("NL latency P95", fmtMs(nl.p95) + (isNum(nl.p95) ? " ms" : ""), latencySub),
      tile("NL latency P99", fmtMs(nl.p99) + (isNum(nl.p99) ? " ms" : ""), latencySub),
      tile("error rate", fmtPct(s.errors.rate), plural(s.errors.total, "error") + " / " + plural(s.turns, "turn"),
           rateClass(s.errors.rate, 0.01, 0.05, false))
    ].forEach(function (node) { box.appendChild(node); });
  }

  // -- charts -------------------------------------------------------------------

  // rows: the categories of a horizontal bar chart, which grows to give each its own line.
  function chart(id, hasData, config, rows) {
    var canvas = document.getElementById(id);
    var holder = canvas.parentNode;
    holder.style.height = rows ? Math.max(260, rows * 34 + 70) + "px" : "";
    var old = holder.querySelector(".nodata");
    if (old) holder.removeChild(old);
    if (!hasData) {
      canvas.hidden = true;
      holder.appendChild(el("div", "nodata", "No data in this view"));
      return;
    }
    canvas.hidden = false;
    charts.push(new Chart(canvas, config));
  }

  function axisTitle(text) { return { display: true, text: text }; }

  function renderCharts(view) {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var s = view.summary;
    var series = view.series;
    var step = view.step_hours;
    var labels = series.start.map(function (t) { return fmtSlot(t, step); });
    var slotTitle = function (items) {
      var i = items[0].dataIndex;
      var start = parseTime(series.start[i]);
      var end = start ? new Date(start.getTime() + step * 3600000).toISOString() : null;
      return fmtSlot(series.start[i], 1) + " \u2192 " + fmtSlot(end, 1) + " UTC";
    };
    var timeAxis = { ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 }, grid: { color: COLORS.grid } };
    var countAxis = function (title, position) {
      return { position: position, beginAtZero: true, title: axisTitle(title), ticks: { precision: 0 },
               grid: { color: COLORS.grid, drawOnChartArea: position === "left" } };
    };
    var total = function (list) { return list.reduce(function (a, b) { return a + (b || 0); }, 0); };

    chart("chart-volume", total(series.events) > 0, {
      data: {
        labels: labels,
        datasets: [
          { type: "bar", label: "events", data: series.events, backgroundColor: COLORS.events, yAxisID: "y", order: 3 },
          { type: "line", label: "error events", data: series.errors, borderColor: COLORS.errors,
            backgroundColor: COLORS.errors, yAxisID: "y1", pointRadius: 2, borderWidth: 2, order: 1 },
          { type: "line", label: "failed executions", data: series.failed_executions, borderColor: COLORS.failed,
            backgroundColor: COLORS.failed, yAxisID: "y1", pointRadius: 2, borderWidth: 2, borderDash: [5, 3], order: 2 }
        ]
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: { title: slotTitle } },
                   legend: { labels: { sort: function (a, b) { return a.datasetIndex - b.datasetIndex; } } } },
        scales: { x: timeAxis, y: countAxis("events", "left"), y1: countAxis("errors, failures", "right") }
      }
    });

    var hasLatency = series.nl_p50.some(isNum);
    var line = function (label, key, color) {
      return { type: "line", label: label, data: series[key], borderColor: color, backgroundColor: color,
               pointRadius: 2, borderWidth: 2, spanGaps: false };
    };
    chart("chart-latency", hasLatency, {
      data: { labels: labels, datasets: [line("P50", "nl_p50", COLORS.p50), line("P95", "nl_p95", COLORS.p95),
                                         line("P99", "nl_p99", COLORS.p99)] },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: {
          title: slotTitle,
          label: function (item) { return item.dataset.label + ": " + fmtMs(item.raw) + " ms"; }
        } } },
        scales: { x: timeAxis, y: { beginAtZero: true, title: axisTitle("ms"), grid: { color: COLORS.grid } } }
      }
    });

    var ops = capped("chart-operations",
                     entries(s.operations).filter(function (kv) { return kv[1].succeeded + kv[1].failed > 0; }));
    chart("chart-operations", ops.length > 0, {
      type: "bar",
      data: {
        labels: ops.map(function (kv) { return [label(kv[0]), fmtPct(kv[1].success_rate)]; }),
        datasets: [{
          label: "success rate", data: ops.map(function (kv) { return kv[1].success_rate * 100; }),
          maxBarThickness: 36,
          backgroundColor: ops.map(function (kv) {
            return COLORS[rateClass(kv[1].success_rate, 0.95, 0.8, true)] || COLORS.good;
          })
        }]
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (item) {
          var row = ops[item.dataIndex][1];
          return fmtPct(row.success_rate) + " succeeded (" + fmtInt(row.succeeded) + " of " +
            fmtInt(row.succeeded + row.failed) + "; " + fmtInt(row.total) + " executions)";
        } } } },
        scales: { x: { min: 0, max: 100, title: axisTitle("% of executions that succeeded"), grid: { color: COLORS.grid } },
                  y: { grid: { display: false }, ticks: { autoSkip: false } } }
      }
    }, ops.length);

    var stages = capped("chart-stages", entries(s.errors.by_stage));
    chart("chart-stages", stages.length > 0, {
      type: "bar",
      data: {
        labels: stages.map(function (kv) { return [label(kv[0]), fmtInt(kv[1].count)]; }),
        datasets: [{ label: "errors", data: stages.map(function (kv) { return kv[1].count; }),
                     backgroundColor: COLORS.stageErrors, maxBarThickness: 36 }]
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (item) {
          var row = stages[item.dataIndex][1];
          return fmtInt(row.count) + " errors (" + fmtPct(row.rate) + " of turns)";
        } } } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle("error events"), grid: { color: COLORS.grid } },
                  y: { grid: { display: false }, ticks: { autoSkip: false } } }
      }
    }, stages.length);

    var intents = capped("chart-confidence",
                         entries(s.confidence.by_intent).filter(function (kv) { return isNum(kv[1].mean); }));
    var nlStages = entries(s.confidence.by_stage).filter(function (kv) { return isNum(kv[1].mean); }).slice(0, 8);
    var confLabels = intents.map(function (kv) { return [label(kv[0]), fmtConf(kv[1].mean)]; })
      .concat(nlStages.map(function (kv) { return ["stage: " + label(kv[0]), fmtConf(kv[1].mean)]; }));
    var pick = function (rows, before, after) {
      return new Array(before).fill(null).concat(rows.map(function (kv) { return kv[1].mean; }))
        .concat(new Array(after).fill(null));
    };
    var confRows = intents.concat(nlStages);
    var confDatasets = [{ label: "by intent", data: pick(intents, 0, nlStages.length), backgroundColor: COLORS.intent, skipNull: true, maxBarThickness: 28 }];
    if (nlStages.length) {
      confDatasets.push({ label: "by NL stage", data: pick(nlStages, intents.length, 0), backgroundColor: COLORS.stage, skipNull: true, maxBarThickness: 28 });
    }
    chart("chart-confidence", confRows.length > 0, {
      type: "bar",
      data: { labels: confLabels, datasets: confDatasets },
      options: {
        indexAxis: "y",
        plugins: { tooltip: { callbacks: { label: function (item) {
          var row = confRows[item.dataIndex][1];
          return "mean confidence " + fmtConf(item.raw) + " (" + fmtInt(row.count) + " results)";
        } } } },
        scales: { x: { min: 0, max: 1, title: axisTitle("mean confidence"), grid: { color: COLORS.grid } },
                  y: { grid: { display: false }, ticks: { autoSkip: false } } }
      }
    }, confRows.length);

    var bins = view.confidence_histogram;
    var binned = total(bins.map(function (b) { return b.count; }));
    chart("chart-histogram", binned > 0, {
      type: "bar",
      data: {
        labels: bins.map(function (b) { return b.low.toFixed(2); }),
        datasets: [{ label: "NL results", data: bins.map(function (b) { return b.count; }),
                     backgroundColor: COLORS.histogram, categoryPercentage: 1.0, barPercentage: 0.92 }]
      },
      options: {
        plugins: { legend: { display: false }, tooltip: { callbacks: {
          title: function (items) {
            var b = bins[items[0].dataIndex];
            return "confidence " + b.low.toFixed(2) + " \u2013 " + b.high.toFixed(2);
          },
          label: function (item) {
            return fmtInt(item.raw) + " NL results (" + fmtPct(binned ? item.raw / binned : null) + ")";
          }
        } } },
        scales: { x: { title: axisTitle("confidence (bin start)"), grid: { display: false },
                       ticks: { autoSkip: true, maxRotation: 0 } },
                  y: { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle("NL results"), grid: { color: COLORS.grid } } }
      }
    });
  }

  // -- tables -------------------------------------------------------------------

  // columns: [{value(row), text(row)?, cls?, title(row)?}]; value is what the column sorts by.
  function fillTable(id, rows, columns) {
    var table = document.getElementById(id);
    var body = table.tBodies[0];
    clear(body);
    if (!rows.length) {
      var none = el("tr", "none");
      var cell = el("td", "", "none in this view");
      cell.colSpan = columns.length;
      none.appendChild(cell);
      body.appendChild(none);
      return;
    }
    rows.forEach(function (row) {
      var tr = el("tr");
      columns.forEach(function (column) {
        var value = column.value(row);
        var td = el("td", column.cls ? column.cls(row) : "", column.text ? column.text(row) : (value === null ? DASH : value));
        td.dataset.sort = value === null || value === undefined ? "" : String(value);
        if (column.title) {
          var title = column.title(row);
          if (title) td.title = title;
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var sorted = table.querySelector("th[aria-sort]");
    if (sorted) sortTable(table, sorted, sorted.getAttribute("aria-sort"));
  }

  function sessionRef(session, turn) {
    if (session === null || session === undefined) return DASH;
    return shortSession(session) + (typeof turn === "number" ? " #" + turn : "");
  }

  var num = function (key) { return { value: function (r) { return r[key]; }, text: function (r) { return fmtInt(r[key]); }, cls: function () { return "num"; } }; };
  var txt = function (key, cls) { return { value: function (r) { return r[key]; }, cls: function () { return cls || "text"; } }; };
  var time = function (key) { return { value: function (r) { return r[key]; }, text: function (r) { return fmtTime(r[key]); }, cls: function () { return "nowrap"; } }; };
  var session = function (key, turnKey) {
    return { value: function (r) { return r[key]; }, text: function (r) { return sessionRef(r[key], turnKey ? r[turnKey] : null); },
             cls: function () { return "mono nowrap"; }, title: function (r) { return r[key] === null ? "" : String(r[key]); } };
  };

  function renderTables(view) {
    var s = view.summary;
    fillTable("table-errors", s.top_errors, [
      num("count"), txt("stage", "nowrap"), txt("error_type", "nowrap"), txt("message"), txt("example"),
      session("last_session", "last_turn"), time("last_ts")
    ]);
    fillTable("table-failed", s.failed_executions, [
      num("count"), txt("operation", "nowrap"), txt("message"), txt("example"),
      session("last_session", "last_turn"), time("last_ts")
    ]);
    fillTable("table-slowest", s.slowest, [
      { value: function (r) { return r.duration_ms; }, text: function (r) { return fmtMs(r.duration_ms); }, cls: function () { return "num"; } },
      txt("operation", "nowrap"),
      { value: function (r) { return r.success === true ? "yes" : r.success === false ? "NO" : "?"; },
        cls: function (r) { return r.success === false ? "bad" : r.success === true ? "good" : ""; } },
      txt("input"), session("session", "turn"), time("ts")
    ]);
    fillTable("table-sessions", view.sessions_with_most_failures, [
      session("session"), num("errors"), num("failed_executions"), num("events"), time("first_ts"), time("last_ts"),
      { value: function (r) { return "obra-monitor session " + shortSession(r.session); }, cls: function () { return "mono nowrap"; } }
    ]);
  }

  function sortTable(table, th, direction) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.dataset.type === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (tr) { return !tr.classList.contains("none"); });
    var key = function (tr) {
      var raw = tr.cells[index].dataset.sort;
      if (numeric) return raw === "" ? -Infinity : Number(raw);
      return raw.toLowerCase();
    };
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      if (other !== th) other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", direction);
  }

  function makeSortable() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        if (th.dataset.type === "num") th.classList.add("num");
        th.tabIndex = 0;
        th.title = "Sort by " + th.textContent;
        var toggle = function () {
          var now = th.getAttribute("aria-sort");
          var first = th.dataset.type === "num" || th.dataset.type === "time" ? "descending" : "ascending";
          var next = now ? (now === "ascending" ? "descending" : "ascending") : first;
          sortTable(table, th, next);
        };
        th.addEventListener("click", toggle);
        th.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
        });
      });
    });
  }

  // -- views --------------------------------------------------------------------

  function findView(key) {
    for (var i = 0; i < DATA.views.length; i++) if (DATA.views[i].key === key) return DATA.views[i];
    return null;
  }

  function showView(key) {
    var view = findView(key) || DATA.views[0];
    document.body.dataset.view = view.key;
    Array.prototype.forEach.call(document.querySelectorAll("#views button"), function (button) {
      button.setAttribute("aria-pressed", button.dataset.view === view.key ? "true" : "false");
    });
    try { history.replaceState(null, "", "#" + view.key); } catch (e) { /* some file:// viewers */ }
    var s = view.summary;
    var content = document.getElementById("content");
    var empty = document.getElementById("empty");
    document.getElementById("range").textContent = view.label + ": " + fmtTime(view.start) + " \u2192 " +
      fmtTime(view.end) + " UTC (the newest event)  \u00b7  same figures as: obra-monitor analyze " +
      DATA.source.path + " --since " + (DATA.filter.since && DATA.filter.since > view.start ? DATA.filter.since : view.start);
    if (s.events.total === 0) {
      empty.textContent = "No events in this view (" + view.label.toLowerCase() + " before the newest event).";
      empty.hidden = false;
      content.hidden = true;
      charts.forEach(function (c) { c.destroy(); });
      charts = [];
      return;
    }
    empty.hidden = true;
    content.hidden = false;
    renderTiles(view);
    renderCharts(view);
    renderTables(view);
  }

  renderHeader();
  if (DATA.empty) {
    var empty = document.getElementById("empty");
    empty.textContent = DATA.empty;
    empty.hidden = false;
    document.getElementById("content").hidden = true;
    document.getElementById("views").hidden = true;
    document.body.dataset.view = "none";
    document.body.dataset.ready = "true";
    return;
  }
  var initial = findView((location.hash || "").slice(1)) ? location.hash.slice(1) : DATA.views[0].key;
  renderSwitch(initial);
  makeSortable();
  showView(initial);
  document.body.dataset.ready = "true";
})();
