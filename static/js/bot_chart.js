// A bot's price chart (lightweight-charts 5): venue candles, the grid's levels, its orders and fills.
// Overlays come from #bot-chart-data, which the page's websocket replaces as the bot trades.
//
// Read at a glance, on a desktop and on a phone:
// - the whole range (lower to upper bound, and any take-profit or stop-loss) is always in view;
// - each grid level is one truly dashed line (6 px dashes), green where a buy rests on it, red
//   where a sell does, grey where nothing does; fills are arrows at their own price;
// - only the bounds, the take-profit, the stop-loss and the current price get axis labels, and a
//   label that would overlap one already shown (the price's first) is left out;
// - candles spread across the width, their spacing kept between MIN_BAR_SPACING and MAX_BAR_SPACING.
// What it drew is written to #bot-chart[data-view] as JSON, for the browser tests.
(function () {
  "use strict";
  var box = document.getElementById("bot-chart");
  if (!box || !window.LightweightCharts) return;
  var LC = window.LightweightCharts;
  var series = null; // the candles, once added
  var shown = []; // the axis labels placed last: { text, price, y }

  var LABEL_HEIGHT = 20; // px: an axis label's height, the least distance between two shown labels
  var TICK_CLEARANCE = 16; // px: half a label and half a tick mark's text
  var MIN_BAR_SPACING = 4; // px per candle: below this a phone shows only the latest candles
  var MAX_BAR_SPACING = 24; // px per candle: a young market's few candles stay candle-shaped
  var RIGHT_GAP = 3; // empty candle slots after the last, room for its fill arrows
  var LEVEL_STYLE = LC.LineStyle.LargeDashed; // 6 px on, 6 px off: Dashed (2 px) reads as solid

  var step = box.dataset.priceStep || "0.01";
  var decimals = step.indexOf(".") < 0 ? 0 : step.replace(/0+$/, "").split(".")[1].length;
  var zone = box.dataset.timeZone || undefined;
  var when = new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" });
  var hour = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  var day = new Intl.DateTimeFormat(undefined, { timeZone: zone, month: "short", day: "numeric" });
  var price = new Intl.NumberFormat(undefined, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  var colours = {
    buy: "#15803d",
    sell: "#c2410c",
    bound: dark ? "#cbd5e1" : "#334155",
    now: "#2563eb",
    takeProfit: "#0d9488",
    stopLoss: "#b91c1c",
  };
  // Levels are drawn over the candles: translucent, so that a dense grid does not hide them.
  var levelColours = {
    buy: "rgba(21, 128, 61, 0.6)",
    sell: "rgba(194, 65, 12, 0.6)",
    "": dark ? "rgba(148, 163, 184, 0.6)" : "rgba(100, 116, 139, 0.5)",
  };

  // The scale's own round numbers give way to the labels a trader reads: no text under them.
  function tickmarks(prices) {
    return prices.map(function (p) {
      var y = series ? series.priceToCoordinate(p) : null;
      var clear = y === null || shown.every(function (label) { return Math.abs(label.y - y) >= TICK_CLEARANCE; });
      return clear ? price.format(p) : "";
    });
  }

  var chart = LC.createChart(box, {
    autoSize: true,
    // The attribution link is in the caption under the chart: the logo covered the lowest levels.
    layout: { background: { color: "transparent" }, textColor: dark ? "#9aa7bd" : "#5b6678", attributionLogo: false },
    // The dashed levels are the lines a trader reads; a second set of solid ones would compete.
    grid: { vertLines: { visible: false }, horzLines: { visible: false } },
    rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.08 } },
    timeScale: {
      timeVisible: true,
      rightOffset: RIGHT_GAP,
      minBarSpacing: MIN_BAR_SPACING,
      maxBarSpacing: MAX_BAR_SPACING,
      tickMarkFormatter: function (t, type) { return (type < 3 ? day : hour).format(new Date(t * 1000)); },
    },
    localization: {
      timeFormatter: function (t) { return when.format(new Date(t * 1000)); },
      priceFormatter: function (p) { return price.format(p); },
      tickmarksPriceFormatter: tickmarks,
    },
  });

  var bounds = { low: Infinity, high: -Infinity }; // what must stay in view: range, TP and SL
  series = chart.addSeries(LC.CandlestickSeries, {
    priceFormat: { type: "price", precision: decimals, minMove: Number(step) },
    priceLineColor: colours.now,
    priceLineStyle: LC.LineStyle.Solid,
    autoscaleInfoProvider: function (original) {
      var found = original();
      var low = bounds.low;
      var high = bounds.high;
      if (found && found.priceRange) {
        low = Math.min(low, found.priceRange.minValue);
        high = Math.max(high, found.priceRange.maxValue);
      }
      if (!isFinite(low) || !isFinite(high)) return found;
      return { priceRange: { minValue: low, maxValue: high }, margins: found ? found.margins : undefined };
    },
  });
  var markers = LC.createSeriesMarkers(series, []);
  var levels = []; // { line, price, side, bound }
  var labels = []; // { line, price, text, rank }: axis labels that are shown when they fit
  var candles = [];
  var interval = 300;
  var fetchedAt = 0;
  var framed = false;

  function level(at, side, bound) {
    var line = series.createPriceLine({
      price: at, color: levelColours[side || ""], lineWidth: 1, lineStyle: LEVEL_STYLE,
      axisLabelVisible: false, title: "",
    });
    levels.push({ line: line, price: at, side: side || "", bound: !!bound });
  }

  function label(at, text, colour, style, rank) {
    // A line of its own for the label: a bound's level keeps its order's colour, its label does not.
    var line = series.createPriceLine({
      price: at, color: colour, lineWidth: 1, lineStyle: style === null ? LC.LineStyle.Solid : style,
      lineVisible: style !== null, axisLabelVisible: false, axisLabelColor: colour, title: text,
    });
    labels.push({ line: line, price: at, text: text, rank: rank });
  }

  function overlays() {
    var holder = document.getElementById("bot-chart-data");
    var data = holder ? JSON.parse(holder.dataset.chart) : { grid: [], orders: [], fills: [] };
    levels.concat(labels).forEach(function (drawn) { series.removePriceLine(drawn.line); });
    levels = [];
    labels = [];
    var sides = {};
    data.orders.forEach(function (o) { sides[Number(o.price)] = o.side; });
    var gridPrices = data.grid.map(Number);
    gridPrices.forEach(function (p) { level(p, sides[p]); });
    Object.keys(sides).map(Number).forEach(function (p) {
      if (gridPrices.indexOf(p) < 0) level(p, sides[p]); // an order off the grid's lines
    });
    var lower = data.lower !== undefined && data.lower !== null ? Number(data.lower) : gridPrices[0];
    var upper = data.upper !== undefined && data.upper !== null ? Number(data.upper) : gridPrices[gridPrices.length - 1];
    var kept = [lower, upper];
    if (lower !== undefined) label(lower, "Lower", colours.bound, null, 1);
    if (upper !== undefined) label(upper, "Upper", colours.bound, null, 1);
    if (data.take_profit) {
      label(Number(data.take_profit), "TP", colours.takeProfit, LC.LineStyle.Dotted, 2);
      kept.push(Number(data.take_profit));
    }
    if (data.stop_loss) {
      label(Number(data.stop_loss), "SL", colours.stopLoss, LC.LineStyle.Dotted, 2);
      kept.push(Number(data.stop_loss));
    }
    kept = kept.filter(function (p) { return p !== undefined && isFinite(p); });
    bounds = { low: Math.min.apply(null, kept), high: Math.max.apply(null, kept) };
    var first = candles.length ? candles[0].time : Infinity;
    markers.setMarkers(data.fills.filter(function (f) { return f.time >= first; }).map(function (f) {
      var buy = f.side === "buy";
      return {
        time: f.time - (f.time % interval), // on the candle the fill happened in
        position: buy ? "atPriceBottom" : "atPriceTop", // the arrow's tip at the fill's price
        price: Number(f.price),
        color: colours[f.side],
        shape: buy ? "arrowUp" : "arrowDown",
      };
    }));
    later(placeLabels);
  }

  // Spread the candles across the width: all of them when they fit at MIN_BAR_SPACING or more,
  // from the left edge at MAX_BAR_SPACING when they are few, else the latest that fit.
  function frame() {
    var width = chart.timeScale().width();
    if (!candles.length || !width) return;
    var slots = candles.length + RIGHT_GAP;
    var spacing = Math.min(MAX_BAR_SPACING, Math.max(MIN_BAR_SPACING, width / slots));
    var fit = width / spacing;
    var from = slots <= fit ? -0.5 : slots - fit - 0.5;
    chart.timeScale().setVisibleLogicalRange({ from: from, to: from + fit });
    framed = true;
  }

  // Axis labels, most important first: the current price (the series' own), then the bounds,
  // then TP and SL. One that would overlap a label already placed is hidden; its line stays.
  function placeLabels() {
    var placed = [];
    var last = candles.length ? candles[candles.length - 1].close : null;
    var y = last === null ? null : series.priceToCoordinate(last);
    if (y !== null) placed.push({ text: "Price", price: last, y: y });
    labels.slice().sort(function (a, b) { return a.rank - b.rank; }).forEach(function (item) {
      var at = series.priceToCoordinate(item.price);
      var fits = at !== null && placed.every(function (p) { return Math.abs(p.y - at) >= LABEL_HEIGHT; });
      item.line.applyOptions({ axisLabelVisible: fits });
      if (fits) placed.push({ text: item.text, price: item.price, y: at });
    });
    var moved = JSON.stringify(placed) !== JSON.stringify(shown);
    shown = placed;
    // Tick marks are formatted once per scale change: have them formatted again around these labels.
    if (moved) chart.applyOptions({ localization: { tickmarksPriceFormatter: tickmarks } });
    report(placed);
  }

  function report(placed) {
    var height = chart.paneSize().height;
    var top = series.coordinateToPrice(0);
    var bottom = series.coordinateToPrice(height);
    var time = chart.timeScale();
    var x = function (c) { return c ? time.timeToCoordinate(c.time) : null; };
    var inView = function (p) { return top !== null && bottom !== null && p >= bottom && p <= top; };
    var lower = labels.filter(function (l) { return l.text === "Lower"; })[0];
    var upper = labels.filter(function (l) { return l.text === "Upper"; })[0];
    box.dataset.view = JSON.stringify({
      candles: candles.length,
      width: time.width(),
      height: height,
      barSpacing: time.options().barSpacing,
      firstX: x(candles[0]),
      lastX: x(candles[candles.length - 1]),
      visible: top !== null && bottom !== null ? { low: bottom, high: top } : null,
      lower: lower ? lower.price : null,
      upper: upper ? upper.price : null,
      lowerInView: !!lower && inView(lower.price),
      upperInView: !!upper && inView(upper.price),
      levels: levels.map(function (l) {
        var options = l.line.options();
        return {
          price: l.price, side: l.side, style: options.lineStyle, width: options.lineWidth,
          label: options.axisLabelVisible, y: series.priceToCoordinate(l.price),
        };
      }),
      labels: placed,
      markers: markers.markers().length,
    });
  }

  function later(work) {
    // Coordinates are those of the last render: wait for the one these changes cause.
    requestAnimationFrame(function () { requestAnimationFrame(work); });
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
        if (!framed) frame();
        overlays();
      });
  }

  box.chartScreenshot = function () { return chart.takeScreenshot(); }; // for the browser tests' pixels
  chart.timeScale().subscribeVisibleLogicalRangeChange(function () { later(placeLabels); });
  chart.timeScale().subscribeSizeChange(function () {
    frame();
    later(placeLabels);
  });
  loadCandles();
  overlays();
  document.addEventListener("htmx:wsAfterMessage", function () {
    overlays();
    if (Date.now() - fetchedAt > 15000) loadCandles();
  });
})();
