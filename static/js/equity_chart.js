// The dashboard's equity chart. Amounts arrive as decimal strings and become numbers only here,
// for drawing; nothing computed from them goes back to the server.
(function () {
  "use strict";

  function drawEquityChart(container) {
    if (!window.LightweightCharts || container.dataset.drawn) return;
    var source = document.getElementById(container.dataset.equityChart);
    if (!source) return;
    var points = JSON.parse(source.textContent).map(function (point) {
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
  }

  function drawAll() {
    document.querySelectorAll("[data-equity-chart]").forEach(drawEquityChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
