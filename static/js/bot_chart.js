// A bot's price chart: venue candles, grid lines, open orders and fills (lightweight-charts).
// Overlays come from #bot-chart-data, which the page's websocket replaces as the bot trades.
(function () {
  "use strict";
  var box = document.getElementById("bot-chart");
  if (!box || !window.LightweightCharts) return;
  var LC = window.LightweightCharts;
  var step = box.dataset.priceStep || "0.01";
  var decimals = step.indexOf(".") < 0 ? 0 : step.replace(/0+$/, "").split(".")[1].length;
  var zone = box.dataset.timeZone || undefined;
  var when = new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" });
  var hour = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  var day = new Intl.DateTimeFormat(undefined, { timeZone: zone, month: "short", day: "numeric" });
  var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  var chart = LC.createChart(box, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: dark ? "#9aa7bd" : "#5b6678" },
    grid: { vertLines: { visible: false }, horzLines: { color: dark ? "#24314d" : "#eef1f6" } },
    timeScale: { timeVisible: true, rightOffset: 3 }, // room for the newest candle's fill markers
    localization: { timeFormatter: function (t) { return when.format(new Date(t * 1000)); } },
  });
  chart.applyOptions({
    timeScale: {
      tickMarkFormatter: function (t, type) { return (type < 3 ? day : hour).format(new Date(t * 1000)); },
    },
  });
  // The view stretches past the candles to the nearest open order each side (the next buy and
  // sell are what a trader watches), or the nearest grid line where no order is on that side.
  var orderPrices = [];
  var gridPrices = [];
  function nearest(prices, beyond, below) {
    var found = prices.filter(function (p) { return below ? p < beyond : p > beyond; });
    if (!found.length) return null;
    return below ? Math.max.apply(null, found) : Math.min.apply(null, found);
  }
  function reach(beyond, below) {
    var order = nearest(orderPrices, beyond, below);
    return order !== null ? order : nearest(gridPrices, beyond, below);
  }
  var series = chart.addSeries(LC.CandlestickSeries, {
    priceFormat: { type: "price", precision: decimals, minMove: Number(step) },
    autoscaleInfoProvider: function (original) {
      var found = original();
      if (!found || !found.priceRange) return found;
      var range = found.priceRange;
      var low = reach(range.minValue, true);
      var high = reach(range.maxValue, false);
      if (low !== null) range.minValue = low;
      if (high !== null) range.maxValue = high;
      return found;
    },
  });
  var markers = LC.createSeriesMarkers(series, []);
  var lines = [];
  var candles = [];
  var interval = 300;
  var fetchedAt = 0;

  function overlays() {
    var holder = document.getElementById("bot-chart-data");
    var data = holder ? JSON.parse(holder.dataset.chart) : { grid: [], orders: [], fills: [] };
    lines.forEach(function (line) { series.removePriceLine(line); });
    lines = [];
    orderPrices = data.orders.map(function (o) { return Number(o.price); });
    gridPrices = data.grid.map(Number);
    var add = function (price, color, style, title) {
      lines.push(series.createPriceLine({
        price: Number(price), color: color, lineWidth: 1, lineStyle: style, axisLabelVisible: !!title, title: title || "",
      }));
    };
    data.grid.forEach(function (p) { add(p, dark ? "#3b4a6b" : "#c5cddd", LC.LineStyle.Dashed); });
    data.orders.forEach(function (o) { add(o.price, o.side === "buy" ? "#15803d" : "#c2410c", LC.LineStyle.Solid, o.side); });
    if (data.take_profit) add(data.take_profit, "#0d9488", LC.LineStyle.Dotted, "TP");
    if (data.stop_loss) add(data.stop_loss, "#b91c1c", LC.LineStyle.Dotted, "SL");
    var first = candles.length ? candles[0].time : Infinity;
    markers.setMarkers(data.fills.filter(function (f) { return f.time >= first; }).map(function (f) {
      var buy = f.side === "buy";
      return {
        time: f.time - (f.time % interval), // on the candle the fill happened in
        position: buy ? "belowBar" : "aboveBar",
        color: buy ? "#15803d" : "#c2410c",
        shape: buy ? "arrowUp" : "arrowDown",
        text: buy ? "B" : "S",
      };
    }));
  }

  function loadCandles() {
    fetchedAt = Date.now();
    fetch(box.dataset.candlesUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.error) { box.dataset.error = body.error; return; }
        candles = body.candles.map(function (c) {
          return { time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
        });
        if (candles.length > 1) interval = candles[1].time - candles[0].time;
        series.setData(candles);
        overlays();
      });
  }

  loadCandles();
  overlays();
  document.addEventListener("htmx:wsAfterMessage", function () {
    overlays();
    if (Date.now() - fetchedAt > 15000) loadCandles();
  });
})();
