/* Accord's charts: each element with a `data-chart` attribute (JSON: {x: [epoch seconds], series: [{label,
   values}]}) is drawn with uPlot, again after htmx swaps new content in. The page keeps the same figures in a
   table for those who do not see the chart. No inline script: the Content-Security-Policy allows none. */
(function () {
  "use strict";
  var colours = ["#0b5cad", "#a30d0d", "#1d7a3a", "#7a4b00", "#5b2a86", "#4a525c"];

  function draw(element) {
    if (element.dataset.drawn || typeof uPlot === "undefined") { return; }
    var chart;
    try { chart = JSON.parse(element.dataset.chart); } catch (e) { return; }
    if (!chart.x || chart.x.length === 0) { return; }
    var width = Math.max(280, Math.min(element.clientWidth || 600, 1100));
    var series = [{}].concat(chart.series.map(function (s, i) {
      return { label: s.label, stroke: colours[i % colours.length], width: 2, points: { show: chart.x.length < 60 } };
    }));
    var data = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    element.dataset.drawn = "yes";
    new uPlot({ width: width, height: 220, series: series, scales: { x: { time: chart.time !== false } } }, data, element);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
