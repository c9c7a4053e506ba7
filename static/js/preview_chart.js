// The create-bot wizard's chart: recent candles with the grid's levels drawn over them.
// The server sends the data with json_script inside each [data-preview-chart] figure; htmx
// swaps a new figure in as the trader types, and this draws it. Numbers are for display only.
(function () {
  "use strict";

  const SIDE_COLOURS = { buy: "#15803d", sell: "#c2410c", "": "#94a3b8" };
  let current = null; // { figure, chart }: one chart at a time, removed when its figure goes

  function palette() {
    const styles = getComputedStyle(document.documentElement);
    return {
      text: styles.getPropertyValue("--muted").trim() || "#5b6678",
      grid: styles.getPropertyValue("--border").trim() || "#dfe4ee",
    };
  }

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
    if (!source || !canvas || typeof LightweightCharts === "undefined") return;
    const data = JSON.parse(source.textContent);
    const colours = palette();
    const chart = LightweightCharts.createChart(canvas, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: colours.text },
      grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.08 } },
      handleScroll: false,
      handleScale: false,
    });
    const series = chart.addSeries(LightweightCharts.CandlestickSeries, {
      upColor: "#15803d",
      downColor: "#c2410c",
      borderVisible: false,
      wickUpColor: "#15803d",
      wickDownColor: "#c2410c",
      priceFormat: { type: "price", precision: data.precision, minMove: Number(data.tick) },
    });
    series.setData(candlesFor(data));
    const prices = data.levels.map((level) => Number(level.price));
    data.levels.forEach((level) => {
      series.createPriceLine({
        price: Number(level.price),
        color: SIDE_COLOURS[level.side] || SIDE_COLOURS[""],
        lineWidth: 1,
        lineStyle: LightweightCharts.LineStyle.Dashed,
        axisLabelVisible: data.levels.length <= 20,
        title: level.side ? level.side.toUpperCase() : "",
      });
    });
    if (prices.length) {
      // Keep every level in view, not only the candles' own range.
      const low = Math.min(...prices);
      const high = Math.max(...prices);
      series.applyOptions({
        autoscaleInfoProvider: (original) => {
          const base = original();
          const range = base ? base.priceRange : { minValue: low, maxValue: high };
          return {
            priceRange: {
              minValue: Math.min(range.minValue, low),
              maxValue: Math.max(range.maxValue, high),
            },
          };
        },
      });
    }
    chart.timeScale().fitContent();
    figure.dataset.levels = String(data.levels.length);
    figure.dataset.drawn = "true";
    return chart;
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
