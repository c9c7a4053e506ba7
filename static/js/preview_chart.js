// The create-bot wizard's chart: recent candles with the grid's levels drawn over them.
// The server sends the data with json_script inside each [data-preview-chart] figure; htmx
// swaps a new figure in as the trader types, and this draws it. Numbers are for display only.
(function () {
  "use strict";

  let current = null; // { figure, chart }: one chart at a time, removed when its figure goes

  function candlesFor(data) {
    if (data.candles.length) {
      return data.candles.map((c) => ({
        time: c.time,
        open: Number(c.open),
        high: Number(c.high),
        low: Number(c.low),
        close: Number(c.close),
      }));
    }
    // No history yet: one flat candle at the current price keeps the price scale meaningful.
    const price = Number(data.price);
    const now = Math.floor(Date.now() / 1000);
    return [{ time: now, open: price, high: price, low: price, close: price }];
  }

  function draw(figure) {
    const source = figure.querySelector('script[type="application/json"]');
    const canvas = figure.querySelector(".preview-chart-canvas");
    if (!source || !canvas || typeof LightweightCharts === "undefined" || !window.GridChart) return;
    const data = JSON.parse(source.textContent);
    // The levels and labels as on the bot's own chart (grid_chart.js); all 48 hours at once,
    // since this chart neither scrolls nor zooms.
    const grid = window.GridChart.create(canvas, {
      step: data.tick,
      chart: { handleScroll: false, handleScale: false, timeScale: { minBarSpacing: 0.5 } },
    });
    grid.setCandles(candlesFor(data));
    const prices = data.levels.map((level) => Number(level.price));
    grid.setLevels(data.levels.map((level) => ({ price: Number(level.price), side: level.side })));
    const limits = prices.length ? { lower: Math.min(...prices), upper: Math.max(...prices) } : {};
    grid.setLimits({ price: Number(data.price), ...limits });
    grid.chart.timeScale().fitContent();
    canvas.chartScreenshot = () => grid.chart.takeScreenshot(); // the browser tests' pixels
    figure.dataset.levels = String(data.levels.length);
    figure.dataset.candles = String(data.candles.length);
    window.GridChart.afterRender(() => {
      grid.placeLabels();
      figure.dataset.view = JSON.stringify(grid.view());
      figure.dataset.drawn = "true";
    });
    return grid.chart;
  }

  function refresh() {
    const figure = document.querySelector("[data-preview-chart]");
    if (current && current.figure !== figure) {
      current.chart.remove();
      current = null;
    }
    if (figure && !current) {
      const chart = draw(figure);
      if (chart) current = { figure, chart };
    }
  }

  // A confirmation form sends once: a second press waits for the first answer.
  function guardSubmits(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.submitted) {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "true";
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("submit", guardSubmits);
  // Back from the next page (bfcache), the form may send again; the server answers a repeat.
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-submitted]").forEach((form) => delete form.dataset.submitted);
  });
})();
