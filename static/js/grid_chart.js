// A grid drawn over candles (lightweight-charts 5), as the bot chart and the wizard's preview
// chart both show it, so that a trader reads either at a glance, on a desktop and on a phone:
// - the whole range (lower to upper bound, and any take-profit or stop-loss) is always in view;
// - each level is one truly dashed line (6 px dashes: `Dashed`'s 2 px read as solid), green where
//   a buy rests on it, red where a sell does, grey where nothing does, and without an axis label;
// - only the bounds, the take-profit, the stop-loss and the current price (the figure the page
//   shows, a solid blue line) are labelled on the axis; a label that would overlap one already placed (the price's first) is left out, and
//   the scale's own round numbers give way to the labels that are placed;
// - candles spread across the width, between MIN_BAR_SPACING and MAX_BAR_SPACING apart.
// `view()` says what was drawn; the pages write it to a data-view attribute for the browser tests.
(function () {
  "use strict";
  var LC = window.LightweightCharts;
  if (!LC) return;

  var LABEL_HEIGHT = 20; // px: an axis label's height, the least distance between two shown labels
  var TICK_CLEARANCE = 16; // px: half a label and half a tick mark's text
  var MIN_BAR_SPACING = 4; // px per candle: below this a phone shows only the latest candles
  var MAX_BAR_SPACING = 24; // px per candle: a young market's few candles stay candle-shaped
  var RIGHT_GAP = 3; // empty candle slots after the last, room for its fill arrows
  var LEVEL_STYLE = LC.LineStyle.LargeDashed;

  function palette() {
    var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    return {
      dark: dark,
      text: dark ? "#9aa7bd" : "#5b6678",
      buy: "#15803d",
      sell: "#c2410c",
      bound: dark ? "#cbd5e1" : "#334155",
      now: "#2563eb",
      takeProfit: "#0d9488",
      stopLoss: "#b91c1c",
      // Levels are drawn over the candles: translucent, so that a dense grid does not hide them.
      levels: {
        buy: "rgba(21, 128, 61, 0.6)",
        sell: "rgba(194, 65, 12, 0.6)",
        "": dark ? "rgba(148, 163, 184, 0.6)" : "rgba(100, 116, 139, 0.5)",
      },
    };
  }

  // options: step (the tick size, a string), chart (more chart options, merged over these).
  function create(box, options) {
    var colours = palette();
    var decimals = GridwiseFormat.placesOf(options.step || "0.01");
    var price = { format: function (p) { return GridwiseFormat.fixed(p, decimals); } };
    var series = null;
    var shown = []; // the axis labels placed last: { text, price, y }
    var kept = { low: Infinity, high: -Infinity };
    var levels = []; // { line, price, side }
    var labels = []; // { line, price, text, rank }
    var candles = [];

    function tickmarks(prices) {
      return prices.map(function (p) {
        var y = series ? series.priceToCoordinate(p) : null;
        var clear = y === null || shown.every(function (label) { return Math.abs(label.y - y) >= TICK_CLEARANCE; });
        return clear ? price.format(p) : "";
      });
    }

    var settings = {
      autoSize: true,
      // The TradingView credit is a link in each chart's caption: the logo covered the lowest levels,
      // and it brings a <style> of its own, which the Content-Security-Policy refuses.
      layout: { background: { color: "transparent" }, textColor: colours.text, attributionLogo: false },
      // The dashed levels are the lines a trader reads; a second set of solid ones would compete.
      grid: { vertLines: { visible: false }, horzLines: { visible: false } },
      rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.08 } },
      timeScale: {
        timeVisible: true,
        secondsVisible: false,
        rightOffset: RIGHT_GAP,
        minBarSpacing: MIN_BAR_SPACING,
        maxBarSpacing: MAX_BAR_SPACING,
      },
      localization: { priceFormatter: function (p) { return price.format(p); }, tickmarksPriceFormatter: tickmarks },
    };
    var extra = options.chart || {};
    Object.keys(extra).forEach(function (key) {
      settings[key] = typeof extra[key] === "object" ? Object.assign({}, settings[key], extra[key]) : extra[key];
    });
    var chart = LC.createChart(box, settings);
    series = chart.addSeries(LC.CandlestickSeries, {
      priceFormat: { type: "price", precision: decimals, minMove: Number(options.step || "0.01") },
      // The current price is a line of its own (`now`): the figure the page shows beside the
      // chart, which may be fresher than the last candle.
      lastValueVisible: false,
      priceLineVisible: false,
      autoscaleInfoProvider: function (original) {
        var found = original();
        var low = kept.low;
        var high = kept.high;
        if (found && found.priceRange) {
          low = Math.min(low, found.priceRange.minValue);
          high = Math.max(high, found.priceRange.maxValue);
        }
        if (!isFinite(low) || !isFinite(high)) return found;
        return { priceRange: { minValue: low, maxValue: high }, margins: found ? found.margins : undefined };
      },
    });

    var nowPrice = null; // the page's current price; the last close when it has none
    var now = series.createPriceLine({
      price: 0, color: colours.now, lineWidth: 1, lineStyle: LC.LineStyle.Solid, lineVisible: false,
      axisLabelVisible: false, axisLabelColor: colours.now, title: "",
    });

    function currentPrice() {
      if (nowPrice !== null) return nowPrice;
      return candles.length ? candles[candles.length - 1].close : null;
    }

    function setCandles(data) {
      candles = data;
      series.setData(data);
    }

    // levels: [{ price: number, side: "buy" | "sell" | "" }]
    function setLevels(wanted) {
      levels.forEach(function (l) { series.removePriceLine(l.line); });
      levels = wanted.map(function (l) {
        var line = series.createPriceLine({
          price: l.price, color: colours.levels[l.side || ""], lineWidth: 1, lineStyle: LEVEL_STYLE,
          axisLabelVisible: false, title: "",
        });
        return { line: line, price: l.price, side: l.side || "" };
      });
    }

    // The current price, the bounds, and take-profit and stop-loss when set: all kept in view.
    function setLimits(limits) {
      nowPrice = limits.price === null || limits.price === undefined || !isFinite(limits.price) ? null : limits.price;
      labels.forEach(function (l) { series.removePriceLine(l.line); });
      labels = [];
      var add = function (at, text, colour, style, rank) {
        if (at === null || at === undefined || !isFinite(at)) return;
        // A line of its own for the label: a bound's level keeps its order's colour, its label does not.
        var line = series.createPriceLine({
          price: at, color: colour, lineWidth: 1, lineStyle: style === null ? LC.LineStyle.Solid : style,
          lineVisible: style !== null, axisLabelVisible: false, axisLabelColor: colour, title: text,
        });
        labels.push({ line: line, price: at, text: text, rank: rank });
      };
      add(limits.lower, limits.boundLabel || "Lower", colours.bound, null, 1);
      add(limits.upper, limits.boundLabel || "Upper", colours.bound, null, 1);
      add(limits.takeProfit, "TP", colours.takeProfit, LC.LineStyle.Dotted, 2);
      add(limits.stopLoss, "SL", colours.stopLoss, LC.LineStyle.Dotted, 2);
      var prices = labels.map(function (l) { return l.price; });
      if (nowPrice !== null) prices.push(nowPrice);
      kept = prices.length
        ? { low: Math.min.apply(null, prices), high: Math.max.apply(null, prices) }
        : { low: Infinity, high: -Infinity };
    }

    // Spread the candles across the width: all of them when they fit at MIN_BAR_SPACING or
    // more, from the left edge at MAX_BAR_SPACING when they are few, else the latest that fit.
    function frame() {
      var width = chart.timeScale().width();
      if (!candles.length || !width) return false;
      var slots = candles.length + RIGHT_GAP;
      var spacing = Math.min(MAX_BAR_SPACING, Math.max(MIN_BAR_SPACING, width / slots));
      var fit = width / spacing;
      var from = slots <= fit ? -0.5 : slots - fit - 0.5;
      chart.timeScale().setVisibleLogicalRange({ from: from, to: from + fit });
      return true;
    }

    // Axis labels, most important first: the current price (the series' own), then the bounds,
    // then TP and SL. One that would overlap a label already placed is hidden; its line stays.
    function placeLabels() {
      var placed = [];
      var last = currentPrice();
      var y = last === null ? null : series.priceToCoordinate(last);
      now.applyOptions({ price: last === null ? 0 : last, lineVisible: y !== null, axisLabelVisible: y !== null });
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
    }

    function view() {
      var height = chart.paneSize().height;
      var top = series.coordinateToPrice(0);
      var bottom = series.coordinateToPrice(height);
      var time = chart.timeScale();
      var x = function (c) { return c ? time.timeToCoordinate(c.time) : null; };
      var inView = function (p) { return top !== null && bottom !== null && p >= bottom && p <= top; };
      var limit = function (text) { return labels.filter(function (l) { return l.text === text; })[0]; };
      var lower = limit("Lower");
      var upper = limit("Upper");
      return {
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
          var drawn = l.line.options();
          return {
            price: l.price, side: l.side, style: drawn.lineStyle, width: drawn.lineWidth,
            label: drawn.axisLabelVisible, y: series.priceToCoordinate(l.price),
          };
        }),
        labels: shown,
      };
    }

    return {
      chart: chart,
      series: series,
      colours: colours,
      setCandles: setCandles,
      setLevels: setLevels,
      setLimits: setLimits,
      frame: frame,
      placeLabels: placeLabels,
      view: view,
    };
  }

  // Coordinates are those of the last render: wait for the one the changes just made cause.
  function afterRender(work) {
    requestAnimationFrame(function () { requestAnimationFrame(work); });
  }

  window.GridChart = { create: create, afterRender: afterRender };
})();
