// A backtest's charts: its equity against buying and holding the same investment, its drawdown
// below the running peak, and its fills on the closing price. Amounts arrive as decimal strings
// and become numbers only here, for drawing. What was drawn is written to each container's
// data-points / data-markers, for the browser tests.
(function () {
  "use strict";

  function options(container, places) {
    var styles = getComputedStyle(document.documentElement);
    return {
      autoSize: true,
      layout: {
        background: { color: "transparent" },
        textColor: styles.getPropertyValue("--muted").trim() || "#5b6678",
        attributionLogo: false, // credited under the charts: the logo's <style> breaks the CSP
      },
      grid: { vertLines: { visible: false }, horzLines: { color: styles.getPropertyValue("--border").trim() || "#dfe4ee" } },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, timeVisible: true },
      localization: {
        timeFormatter: function (time) { return new Date(time * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"; },
        priceFormatter: function (value) { return GridwiseFormat.fixed(value, places); },
      },
    };
  }

  function line(chart, key, curve, colour, places) {
    var series = chart.addSeries(LightweightCharts.LineSeries, {
      color: colour,
      lineWidth: 2,
      priceFormat: { type: "price", precision: places, minMove: Math.pow(10, -places) },
    });
    series.setData(curve.map(function (p) { return { time: p.time, value: Number(p[key]) }; }));
    return series;
  }

  function draw() {
    var source = document.getElementById("backtest-chart-data");
    if (!source || !window.LightweightCharts || source.dataset.drawn) return;
    source.dataset.drawn = "1"; // once per results: a live page draws them when they swap in
    var data = JSON.parse(source.textContent);
    var styles = getComputedStyle(document.documentElement);
    var accent = styles.getPropertyValue("--accent").trim() || "#0d9488";
    var places = GridwiseFormat.placesOf ? GridwiseFormat.placesOf(data.step) : 2;

    var equityBox = document.getElementById("backtest-equity-chart");
    var equity = LightweightCharts.createChart(equityBox, options(equityBox, 2));
    line(equity, "equity", data.curve, accent, 2);
    line(equity, "hold", data.curve, "#94a3b8", 2);
    equity.timeScale().fitContent();
    equityBox.dataset.points = String(data.curve.length);

    var drawdownBox = document.getElementById("backtest-drawdown-chart");
    var drawdown = LightweightCharts.createChart(drawdownBox, options(drawdownBox, 2));
    drawdown.addSeries(LightweightCharts.AreaSeries, {
      lineColor: "#dc2626",
      topColor: "rgba(220, 38, 38, 0.02)",
      bottomColor: "rgba(220, 38, 38, 0.3)",
      lineWidth: 1,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    }).setData(data.curve.map(function (p) { return { time: p.time, value: Number(p.drawdown) }; }));
    drawdown.timeScale().fitContent();

    var priceBox = document.getElementById("backtest-price-chart");
    var liquidation = data.liquidation;
    priceBox.dataset.markers = String(data.fills.length + (liquidation ? 1 : 0));
    // Without a fill or a price there is nothing to mark: an empty chart would only show a
    // lone "0" on its axis. The page's own "No fills in this window" line says it instead.
    if ((!data.fills.length && !liquidation) || !data.curve.some(function (p) { return Number(p.price) > 0; })) {
      priceBox.hidden = true;
      return;
    }
    var price = LightweightCharts.createChart(priceBox, options(priceBox, places));
    var closes = line(price, "price", data.curve, "#475569", places);
    // A fill sits on the curve's point at or before it: the curve may be thinned.
    var times = data.curve.map(function (p) { return p.time; });
    function onCurve(time) {
      var lo = 0, hi = times.length - 1;
      if (time <= times[0]) return times[0];
      while (lo < hi) {
        var mid = Math.ceil((lo + hi) / 2);
        if (times[mid] <= time) lo = mid; else hi = mid - 1;
      }
      return times[lo];
    }
    var markers = data.fills.map(function (f) {
      var buy = f.side === "buy";
      return {
        time: onCurve(f.time),
        position: buy ? "belowBar" : "aboveBar",
        color: buy ? "#16a34a" : "#dc2626",
        shape: buy ? "arrowUp" : "arrowDown",
      };
    });
    if (liquidation) {
      // The run ends at the liquidation: its marker is the last.
      markers.push({
        time: onCurve(liquidation.time),
        position: "aboveBar",
        color: "#b91c1c",
        shape: "square",
        text: "Liquidated at " + liquidation.price,
      });
    }
    LightweightCharts.createSeriesMarkers(closes, markers);
    price.timeScale().fitContent();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
  // The results of a run that ends while its page is open arrive over its socket.
  document.addEventListener("htmx:wsAfterMessage", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
