// Numbers on charts and in live updates, by the rule the server writes them (trading/numbers.py):
// a point for decimals, commas between thousands, whatever the browser's language.
(function () {
  "use strict";

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // The places a step shows: "0.01" -> 2, "0.5" -> 1, "1" -> 0.
  function placesOf(step) {
    var text = String(step || "0.01");
    if (text.indexOf(".") < 0) return 0;
    var fraction = text.replace(/0+$/, "").split(".")[1];
    return fraction ? fraction.length : 0;
  }

  // A number (or decimal text) at `places` decimals: fixed(22000.5, 2) -> "22,000.50".
  function fixed(value, places, signed) {
    var number = Number(value);
    if (value === null || value === "" || !isFinite(number)) return "";
    var text = Math.abs(number).toFixed(places);
    var zero = Number(text) === 0; // never "-0.00"
    var parts = text.split(".");
    var body = group(parts[0]) + (parts.length > 1 ? "." + parts[1] : "");
    if (number < 0 && !zero) return "-" + body;
    return signed && !zero ? "+" + body : body;
  }

  // Decimal text as stored, without padding zeros: plain("22000.500000") -> "22,000.5".
  function plain(text) {
    var match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
    if (!match) return String(text);
    var whole = match[2].replace(/^0+(?=\d)/, "") || "0";
    var fraction = (match[3] || "").replace(/0+$/, "");
    var zero = /^0*$/.test(whole + fraction);
    return (match[1] === "-" && !zero ? "-" : "") + group(whole) + (fraction ? "." + fraction : "");
  }

  window.GridwiseFormat = { fixed: fixed, plain: plain, placesOf: placesOf };
})();
