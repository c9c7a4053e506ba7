// A bot's price chart: venue candles, the grid's levels with the orders resting on them, its
// fills as arrows at their price (drawn by grid_chart.js, which says how it stays readable).
// Overlays come from #bot-chart-data, which the page's websocket replaces as the bot trades.
// What it drew is written to #bot-chart[data-view] as JSON, for the browser tests.
(function () {
  "use strict";
  var box = document.getElementById("bot-chart");
  if (!box || !window.LightweightCharts || !window.GridChart) return;

  var zone = box.dataset.timeZone || undefined;
  var when = new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" });
  var hour = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  var day = new Intl.DateTimeFormat(undefined, { timeZone: zone, month: "short", day: "numeric" });
  var grid = window.GridChart.create(box, {
    step: box.dataset.priceStep || "0.01",
    chart: {
      // The attribution link is in the caption under the chart: the logo covered the lowest levels.
      layout: { attributionLogo: false },
      timeScale: {
        tickMarkFormatter: function (t, type) { return (type < 3 ? day : hour).format(new Date(t * 1000)); },
      },
      localization: { timeFormatter: function (t) { return when.format(new Date(t * 1000)); } },
    },
  });
  var markers = window.LightweightCharts.createSeriesMarkers(grid.series, []);
  var venueCandles = []; // as the venue sent them
  var candles = []; // as drawn: the last one reaching the page's current price
  var INTERVAL_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400 };
  var interval = 300; // seconds per candle
  var fetchedAt = 0;
  var framed = false;

  function number(value) {
    return value === undefined || value === null ? null : Number(value);
  }

  function overlays() {
    var holder = document.getElementById("bot-chart-data");
    var data = holder ? JSON.parse(holder.dataset.chart) : { grid: [], orders: [], fills: [] };
    var sides = {};
    data.orders.forEach(function (o) { sides[Number(o.price)] = o.side; });
    var prices = data.grid.map(Number);
    Object.keys(sides).map(Number).forEach(function (p) {
      if (prices.indexOf(p) < 0) prices.push(p); // an order off the grid's lines
    });
    grid.setLevels(prices.map(function (p) { return { price: p, side: sides[p] || "" }; }));
    follow(number(data.price));
    grid.setLimits({
      price: number(data.price),
      lower: number(data.lower),
      upper: number(data.upper),
      boundLabel: data.bound_label,
      takeProfit: number(data.take_profit),
      stopLoss: number(data.stop_loss),
    });
    var first = candles.length ? candles[0].time : Infinity;
    markers.setMarkers(data.fills.filter(function (f) { return f.time >= first; }).map(function (f) {
      var buy = f.side === "buy";
      return {
        time: f.time - (f.time % interval), // on the candle the fill happened in
        position: buy ? "atPriceBottom" : "atPriceTop", // the arrow's tip at the fill's price
        price: Number(f.price),
        color: grid.colours[f.side],
        shape: buy ? "arrowUp" : "arrowDown",
      };
    }));
    window.GridChart.afterRender(relabel);
  }

  // The venue's candles are cached for a few seconds; the page's price is fresher. The last
  // candle (or a new one, once its interval has passed) reaches it, so the fills the page has
  // just shown sit on a candle that traded there.
  function follow(now) {
    if (now === null || !venueCandles.length) return;
    var last = venueCandles[venueCandles.length - 1];
    var bucket = Math.floor(Date.now() / 1000 / interval) * interval;
    var live = bucket > last.time
      ? { time: bucket, open: last.close, high: Math.max(last.close, now), low: Math.min(last.close, now), close: now }
      : { time: last.time, open: last.open, high: Math.max(last.high, now), low: Math.min(last.low, now), close: now };
    candles = bucket > last.time ? venueCandles.concat([live]) : venueCandles.slice(0, -1).concat([live]);
    grid.setCandles(candles);
  }

  function relabel() {
    grid.placeLabels();
    var view = grid.view();
    view.markers = markers.markers().length;
    box.dataset.view = JSON.stringify(view);
  }

  function loadCandles() {
    fetchedAt = Date.now();
    fetch(box.dataset.candlesUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.error) { box.dataset.error = body.error; return; }
        venueCandles = body.candles.map(function (c) {
          return { time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
        });
        interval = INTERVAL_SECONDS[body.interval] || interval;
        candles = venueCandles;
        grid.setCandles(candles);
        if (!framed) framed = grid.frame();
        overlays();
      });
  }

  box.chartScreenshot = function () { return grid.chart.takeScreenshot(); }; // the browser tests' pixels
  grid.chart.timeScale().subscribeVisibleLogicalRangeChange(function () { window.GridChart.afterRender(relabel); });
  grid.chart.timeScale().subscribeSizeChange(function () {
    grid.frame();
    window.GridChart.afterRender(relabel);
  });
  loadCandles();
  overlays();
  document.addEventListener("htmx:wsAfterMessage", function () {
    overlays();
    if (Date.now() - fetchedAt > 15000) loadCandles();
  });
})();
