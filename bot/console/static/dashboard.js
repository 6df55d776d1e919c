// Supervisors' dashboard: draws the charts (ECharts, vendored) from the figures the page
// carries in data-figures (no inline script: the console's CSP is script-src 'self').
// Clicking a bar, a slice or a point opens the conversations or tickets behind it.
(function () {
  "use strict";
  var holder = document.getElementById("dashboard-data");
  if (!holder || typeof window.echarts === "undefined") return;
  var d = JSON.parse(holder.getAttribute("data-figures"));
  var CHANNELS = {web: "网页", wechat: "微信公众号", wecom: "企业微信", rest: "接口"};
  // Ticket types' names: the product's vocabulary (bot/vocabulary.py), base.html's JSON data block.
  var vocabulary = document.getElementById("vocabulary");
  var TYPES = (vocabulary && JSON.parse(vocabulary.textContent).ticket_types) || {};
  var GREEN = "#0b6e4f", BLUE = "#2b6cb0", RED = "#c53030", AMBER = "#d69e2e", GREY = "#a0aec0";
  var charts = [];
  window.dashboardCharts = charts; // the browser tests look at what was drawn

  function draw(name, option, links) {
    var el = document.querySelector('[data-chart="' + name + '"]');
    if (!el) return;
    var chart = window.echarts.init(el, null, {renderer: "canvas"});
    option.animation = false;
    option.textStyle = {fontFamily: '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'};
    chart.setOption(option);
    if (links) {
      chart.on("click", function (params) {
        var url = links(params);
        if (url) window.location.href = url;
      });
    }
    el.setAttribute("data-drawn", "1");
    charts.push({name: name, chart: chart});
  }

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }

  // Conversations and customer messages per day.
  var days = d.conversations.per_day;
  draw("per_day", {
    tooltip: {trigger: "axis"}, legend: {data: ["会话", "客户消息"]},
    grid: {left: 40, right: 40, top: 36, bottom: 30},
    xAxis: {type: "category", data: days.map(function (x) { return x.day.slice(5); })},
    yAxis: [{type: "value", name: "会话", minInterval: 1}, {type: "value", name: "消息", minInterval: 1}],
    series: [
      {name: "会话", type: "bar", data: days.map(function (x) { return x.conversations; }), itemStyle: {color: GREEN}},
      {name: "客户消息", type: "line", yAxisIndex: 1, data: days.map(function (x) { return x.messages; }),
       itemStyle: {color: BLUE}}
    ]
  }, function (p) { return days[p.dataIndex] && days[p.dataIndex].link; });

  // Customer messages by weekday and hour.
  var cells = [], max = 0;
  d.conversations.heatmap.forEach(function (hours, day) {
    hours.forEach(function (n, hour) { cells.push([hour, day, n]); if (n > max) max = n; });
  });
  draw("heatmap", {
    tooltip: {formatter: function (p) { return d.conversations.weekdays[p.value[1]] + " " + p.value[0] + "时：" + p.value[2] + " 条"; }},
    grid: {left: 44, right: 12, top: 10, bottom: 60},
    xAxis: {type: "category", data: Array.from({length: 24}, function (_, h) { return h + "时"; }), splitArea: {show: true}},
    yAxis: {type: "category", data: d.conversations.weekdays, inverse: true, splitArea: {show: true}},
    visualMap: {min: 0, max: Math.max(max, 1), calculable: false, orient: "horizontal", left: "center", bottom: 0,
                itemHeight: 120, inRange: {color: ["#f0f7f4", "#7cc4a4", GREEN]}},
    series: [{type: "heatmap", data: cells, label: {show: false}}]
  }, function () { return d.conversations.link; });

  var channels = d.conversations.per_channel;
  draw("per_channel", {
    tooltip: {trigger: "item"},
    series: [{type: "pie", radius: ["40%", "70%"], data: channels.map(function (c) {
      return {name: CHANNELS[c.channel] || c.channel, value: c.conversations};
    })}]
  }, function (p) { return channels[p.dataIndex] && channels[p.dataIndex].link; });

  var intents = d.containment.top_intents.slice().reverse();
  draw("top_intents", {
    tooltip: {trigger: "axis"}, grid: {left: 110, right: 20, top: 10, bottom: 24},
    xAxis: {type: "value", minInterval: 1}, yAxis: {type: "category", data: intents.map(function (i) { return i.intent; })},
    series: [{type: "bar", data: intents.map(function (i) {
      return {value: i.messages, itemStyle: {color: i.intent === "nlu_fallback" ? RED : GREEN}};
    })}]
  }, function (p) { return intents[p.dataIndex] && intents[p.dataIndex].link; });

  var types = d.tickets.by_type;
  draw("tickets_by_type", {
    tooltip: {trigger: "axis"}, legend: {data: ["新建", "办结/关闭"]}, grid: {left: 40, right: 20, top: 36, bottom: 24},
    xAxis: {type: "category", data: types.map(function (t) { return TYPES[t.type] || t.type; })},
    yAxis: {type: "value", minInterval: 1},
    series: [{name: "新建", type: "bar", data: types.map(function (t) { return t.opened; }), itemStyle: {color: BLUE}},
             {name: "办结/关闭", type: "bar", data: types.map(function (t) { return t.closed; }), itemStyle: {color: GREEN}}]
  }, function (p) {
    var t = types[p.dataIndex];
    return t && (p.seriesIndex === 1 ? t.closed_link : t.link);
  });

  var rules = d.sla.rules.slice().reverse();
  var states = [["met", "按时", GREEN], ["breached", "超时", RED], ["at_risk", "临近超时", AMBER], ["open", "进行中", GREY]];
  draw("sla", {
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}}, legend: {data: states.map(function (s) { return s[1]; })},
    grid: {left: 120, right: 20, top: 36, bottom: 24},
    xAxis: {type: "value", minInterval: 1}, yAxis: {type: "category", data: rules.map(function (r) { return r.name; })},
    series: states.map(function (s) {
      return {name: s[1], type: "bar", stack: "all", itemStyle: {color: s[2]},
              data: rules.map(function (r) { return r[s[0]]; })};
    })
  }, function (p) {
    var r = rules[p.dataIndex];
    return r && r.links[states[p.seriesIndex][0]];
  });

  var sat = d.satisfaction.by_channel;
  draw("satisfaction", {
    tooltip: {trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; }},
    grid: {left: 44, right: 64, top: 20, bottom: 24},
    xAxis: {type: "category", data: sat.map(function (s) { return CHANNELS[s.channel] || s.channel || "其他"; })},
    yAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
    series: [{type: "bar", data: sat.map(function (s) {
      var v = s.share === null ? null : Math.round(s.share * 1000) / 10;
      return {value: v, itemStyle: {color: v !== null && v < d.satisfaction.target * 100 ? RED : GREEN}};
    }), markLine: {symbol: "none", lineStyle: {color: AMBER, type: "dashed"},
                    label: {formatter: "目标 " + pct(d.satisfaction.target)},
                    data: [{yAxis: d.satisfaction.target * 100}]}}]
  }, function () { return d.satisfaction.dissatisfied_link; });

  var words = (d.complaint_topics.keywords || []).slice(0, 10).reverse();
  draw("topics", {
    tooltip: {trigger: "axis"}, legend: {data: ["本期", "上期"]}, grid: {left: 80, right: 20, top: 36, bottom: 24},
    xAxis: {type: "value", minInterval: 1}, yAxis: {type: "category", data: words.map(function (w) { return w.keyword; })},
    series: [{name: "本期", type: "bar", data: words.map(function (w) { return w.count; }), itemStyle: {color: RED}},
             {name: "上期", type: "bar", data: words.map(function (w) { return w.previous; }), itemStyle: {color: GREY}}]
  }, function (p) { return words[p.dataIndex] && words[p.dataIndex].link; });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.chart.resize(); }); });
})();
