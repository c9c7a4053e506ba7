// The dashboard's equity chart. Amounts arrive as decimal strings and become numbers only here,
// for drawing; nothing computed from them goes back to the server.
(function () {
  "use strict";

  function drawEquityChart(container) {
    if (!window.LightweightCharts || container.dataset.drawn) return;
    var source = document.getElementById(container.dataset.equityChart);
    if (!source) return;
    var raw = JSON.parse(source.textContent);
    // The newest point's exact figure, as the cards show it, for whoever reads the chart's last value.
    if (raw.length) container.dataset.lastValue = raw[raw.length - 1].value;
    var points = raw.map(function (point) {
      return { time: point.time, value: Number(point.value) };
    });
    var styles = getComputedStyle(document.documentElement);
    var chart = LightweightCharts.createChart(container, {
      autoSize: true,
      layout: {
        background: { color: "transparent" },
        textColor: styles.getPropertyValue("--muted").trim() || "#5b6678",
        // Credited in the caption: the logo brings a <style> the Content-Security-Policy refuses.
        attributionLogo: false,
      },
      grid: { vertLines: { visible: false }, horzLines: { color: styles.getPropertyValue("--border").trim() || "#dfe4ee" } },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, timeVisible: true },
      localization: {
        timeFormatter: function (time) { return new Date(time * 1000).toLocaleString(); },
        priceFormatter: function (value) { return GridwiseFormat.fixed(value, 2); },
      },
    });
    var series = chart.addSeries(LightweightCharts.AreaSeries, {
      lineColor: styles.getPropertyValue("--accent").trim() || "#0d9488",
      topColor: "rgba(13, 148, 136, 0.25)",
      bottomColor: "rgba(13, 148, 136, 0.02)",
      lineWidth: 2,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
    series.setData(points);
    chart.timeScale().fitContent();
    container.dataset.drawn = "1";
    container.equitySeries = series;
    container.lastTime = points.length ? points[points.length - 1].time : 0;
  }

  // The cards carry "Equity in live bots" and its time: each live update moves the chart's newest
  // point to the figure the card shows.
  function followCards(cards) {
    if (!cards || !cards.dataset.equityTime) return;
    var time = Number(cards.dataset.equityTime);
    document.querySelectorAll("[data-equity-chart]").forEach(function (container) {
      if (!container.equitySeries || container.dataset.quote !== cards.dataset.equityQuote) return;
      if (time < container.lastTime) return; // the chart cannot go back in time
      container.equitySeries.update({ time: time, value: Number(cards.dataset.equityValue) });
      container.lastTime = time;
      container.dataset.lastValue = cards.dataset.equityValue;
    });
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dashboard-cards") followCards(document.getElementById("dashboard-cards"));
  });

  function drawAll() {
    document.querySelectorAll("[data-equity-chart]").forEach(drawEquityChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
