// The visual report's instance strips: sorted, filtered and drawn one page at a time from
// window.AMODAL_REPORT (data.js, written by amodal.html_report). Sorting and filtering use one
// experiment's metrics and status; instances without a value for the sort metric come last in
// either order; ties (and the "id" order) go by dataset, then id.
// `index.html?selftest=<JSON>` runs scripted control settings and writes what the page showed
// into #selftest (tests/test_report_html.py reads it from a headless browser's DOM).
(function () {
  "use strict";
  const DATA = window.AMODAL_REPORT;
  const $ = (id) => document.getElementById(id);
  const datasetIndex = new Map(DATA.datasets.map((name, i) => [name, i]));
  const metricIndex = new Map(DATA.metrics.map((name, i) => [name, i]));
  const DEFAULTS = {
    "f-dataset": "", "f-experiment": DATA.experiments[0] || "", "f-sort": "id", "f-order": "asc",
    "f-status": "", "f-metric": "", "f-min": "", "f-max": "", "f-search": "", "f-pagesize": "25",
  };
  let page = 0;
  let selection = [];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addOption(select, value, text) {
    const option = element("option", "", text);
    option.value = value;
    select.appendChild(option);
  }

  function setUp() {
    addOption($("f-dataset"), "", "all");
    DATA.datasets.forEach((name) => addOption($("f-dataset"), name, name));
    DATA.experiments.forEach((name) => addOption($("f-experiment"), name, name));
    addOption($("f-sort"), "id", "id");
    DATA.metrics.forEach((name) => addOption($("f-sort"), name, name));
    addOption($("f-status"), "", "all");
    addOption($("f-status"), "!ok", "not ok");
    DATA.statuses.forEach((name) => addOption($("f-status"), name, name));
    addOption($("f-metric"), "", "(none)");
    DATA.metrics.forEach((name) => addOption($("f-metric"), name, name));
    DATA.experiments.forEach((name) => {
      const label = element("label");
      const box = element("input", "show-experiment");
      box.type = "checkbox";
      box.value = name;
      box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + name));
      $("f-show").appendChild(label);
    });
    reset();
    $("controls").addEventListener("change", () => update(true));
    $("controls").addEventListener("input", () => update(true));
    for (const [id, step] of [["prev", -1], ["next", 1], ["prev2", -1], ["next2", 1]]) {
      $(id).addEventListener("click", () => { page += step; update(false); });
    }
  }

  function reset() {
    for (const [id, value] of Object.entries(DEFAULTS)) $(id).value = value;
    document.querySelectorAll(".show-experiment").forEach((box) => { box.checked = true; });
    update(true);
  }

  function settings() {
    const out = {};
    for (const id of Object.keys(DEFAULTS)) out[id] = $(id).value;
    out.shown = Array.from(document.querySelectorAll(".show-experiment")).filter((b) => b.checked).map((b) => b.value);
    return out;
  }

  function metricValue(instance, experiment, metric) {
    const run = instance.runs[experiment];
    if (!run) return null;
    const value = run.values[metricIndex.get(metric)];
    return value === null || value === undefined ? null : value;
  }

  function identity(a, b) {
    const byDataset = datasetIndex.get(a.dataset) - datasetIndex.get(b.dataset);
    if (byDataset) return byDataset;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  function kept(instance, s) {
    if (s["f-dataset"] && instance.dataset !== s["f-dataset"]) return false;
    const run = instance.runs[s["f-experiment"]];
    const status = run ? run.status : "absent";
    if (s["f-status"] === "!ok" ? status === "ok" : s["f-status"] && status !== s["f-status"]) return false;
    if (s["f-metric"] && (s["f-min"] !== "" || s["f-max"] !== "")) {
      const value = metricValue(instance, s["f-experiment"], s["f-metric"]);
      if (value === null) return false;
      if (s["f-min"] !== "" && value < Number(s["f-min"])) return false;
      if (s["f-max"] !== "" && value > Number(s["f-max"])) return false;
    }
    const words = s["f-search"].trim().toLowerCase();
    return !words || instance.id.toLowerCase().includes(words) || (instance.query || "").toLowerCase().includes(words);
  }

  function select(s) {
    const found = DATA.instances.filter((instance) => kept(instance, s));
    const sign = s["f-order"] === "desc" ? -1 : 1;
    if (s["f-sort"] === "id") return found.sort((a, b) => sign * identity(a, b));
    return found.sort((a, b) => {
      const x = metricValue(a, s["f-experiment"], s["f-sort"]);
      const y = metricValue(b, s["f-experiment"], s["f-sort"]);
      if (x === null || y === null) return (x === null) - (y === null) || identity(a, b);
      return sign * (x - y) || identity(a, b);
    });
  }

  function update(fromControls) {
    const s = settings();
    if (fromControls) {
      selection = select(s);
      page = 0;
    }
    const size = Number(s["f-pagesize"]);
    const pages = Math.max(1, Math.ceil(selection.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    const strips = $("strips");
    strips.replaceChildren(...selection.slice(page * size, (page + 1) * size).map((inst) => strip(inst, s)));
    $("page-info").textContent = `page ${page + 1} of ${pages}`;
    $("count").textContent = `${selection.length} of ${DATA.instances.length} instances`;
    for (const id of ["prev", "prev2"]) $(id).disabled = page === 0;
    for (const id of ["next", "next2"]) $(id).disabled = page >= pages - 1;
  }

  function tile(t) {
    const figure = element("figure", "tile");
    const link = element("a", t.checker ? "picture checker" : "picture");
    link.href = t.full;
    link.target = "_blank";
    const img = element("img");
    img.src = t.src;
    img.alt = t.label;
    img.decoding = "async";
    link.appendChild(img);
    figure.appendChild(link);
    figure.appendChild(element("figcaption", "", t.label));
    return figure;
  }

  function formatValue(value) {
    return value === null || value === undefined ? "–" : value.toFixed(3);
  }

  function runRow(instance, experiment, s) {
    const run = instance.runs[experiment];
    const row = element("div", "row run " + (run && run.status === "ok" ? "ok" : "not-ok"));
    row.dataset.experiment = experiment;
    const info = element("div", "run-info");
    info.appendChild(element("div", "experiment", experiment));
    info.appendChild(element("div", "status", run ? run.status : "not run"));
    if (run && run.reason) info.appendChild(element("div", "reason", run.reason));
    if (run && (run.status === "ok" || run.values.some((v) => v !== null))) {
      const table = element("table", "metrics");
      DATA.metrics.forEach((name, i) => {
        const tr = element("tr", name === s["f-sort"] || name === s["f-metric"] ? "chosen" : "");
        tr.appendChild(element("th", "", name));
        tr.appendChild(element("td", "", formatValue(run.values[i])));
        table.appendChild(tr);
      });
      for (const [name, text] of Object.entries(run.notes || {})) {
        const tr = element("tr");
        tr.appendChild(element("th", "", name));
        tr.appendChild(element("td", "", text));
        table.appendChild(tr);
      }
      info.appendChild(table);
    }
    row.appendChild(info);
    const tiles = element("div", "tiles");
    (run ? run.tiles : []).forEach((t) => tiles.appendChild(tile(t)));
    row.appendChild(tiles);
    return row;
  }

  function strip(instance, s) {
    const section = element("section", "strip");
    section.dataset.id = instance.dataset + "/" + instance.id;
    const title = element("h3", "", instance.id + " ");
    title.appendChild(element("span", "dataset", instance.dataset));
    section.appendChild(title);
    const shared = element("div", "row shared");
    const info = element("div", "run-info");
    info.appendChild(element("div", "query", "“" + (instance.query || "") + "”"));
    shared.appendChild(info);
    const tiles = element("div", "tiles");
    if (instance.photo) tiles.appendChild(tile(instance.photo));
    instance.truth.forEach((t) => tiles.appendChild(tile(t)));
    shared.appendChild(tiles);
    section.appendChild(shared);
    s.shown.forEach((experiment) => section.appendChild(runRow(instance, experiment, s)));
    return section;
  }

  // ------------------------------------------------------------------ self-test

  function settled(img) {
    return new Promise((resolve) => {
      if (img.complete) return resolve();
      img.addEventListener("load", resolve, { once: true });
      img.addEventListener("error", resolve, { once: true });
    });
  }

  async function walkPages(scenario) {
    const result = { name: scenario.name, ids: [], runs: {}, pages: 0, loaded: 0, failed: [] };
    for (;;) {
      result.pages += 1;
      document.querySelectorAll("#strips .strip").forEach((node) => {
        result.ids.push(node.dataset.id);
        result.runs[node.dataset.id] = Array.from(node.querySelectorAll(".run")).map((row) => ({
          experiment: row.dataset.experiment,
          status: row.querySelector(".status").textContent,
          reason: row.querySelector(".reason") ? row.querySelector(".reason").textContent : "",
          images: row.querySelectorAll("img").length,
        }));
      });
      const images = Array.from(document.querySelectorAll("#strips img"));
      await Promise.all(images.map(settled));
      images.forEach((img) => {
        if (img.naturalWidth > 0) result.loaded += 1;
        else result.failed.push(img.getAttribute("src"));
      });
      if ($("next").disabled) break;
      $("next").click();
    }
    result.count = $("count").textContent;
    return result;
  }

  async function selftest(spec) {
    const out = { scenarios: [] };
    for (const scenario of spec.scenarios) {
      reset();
      for (const [id, value] of Object.entries(scenario.controls || {})) {
        const control = $(id);
        // a page size the menu lacks (a test's small pages) is added to it
        if (control.tagName === "SELECT" && !Array.from(control.options).some((o) => o.value === value)) {
          addOption(control, value, value);
        }
        control.value = value;
        control.dispatchEvent(new Event("change", { bubbles: true }));
      }
      if (scenario.show) {
        document.querySelectorAll(".show-experiment").forEach((box) => {
          box.checked = scenario.show.includes(box.value);
          box.dispatchEvent(new Event("change", { bubbles: true }));
        });
      }
      out.scenarios.push(await walkPages(scenario));
    }
    $("selftest").textContent = JSON.stringify(out);
    $("selftest").hidden = false;
    document.title = "selftest done";
  }

  setUp();
  const spec = new URLSearchParams(window.location.search).get("selftest");
  if (spec !== null) {
    selftest(JSON.parse(spec)).catch((error) => {
      $("selftest").textContent = JSON.stringify({ error: String(error && error.stack || error) });
      $("selftest").hidden = false;
    });
  }
})();
