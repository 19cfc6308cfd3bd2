/// The report page's only style sheet and script. They contain no data: the Content-Security-Policy
/// of the page allows exactly these two (by hash), nothing else, and no network access at all.
enum HTMLAssets {
    static let style = """
    :root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--soft:#f0f4f8;--bg:#eef2f6;--accent:#243b53;\
    --high:#c62828;--medium:#e06c00;--low:#a98600;--info:#1f6fb2;--ok:#2f7d32}
    *{box-sizing:border-box}
    html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
    body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;\
    color:var(--ink);background:var(--bg)}
    code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
    code{font-size:.88em;background:var(--soft);border:1px solid #e1e7ef;border-radius:3px;padding:0 4px;overflow-wrap:anywhere}
    html{hyphens:none;-webkit-hyphens:none}
    .id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.92em;\
    overflow-wrap:normal;word-break:keep-all}
    code.id,td.id{overflow-wrap:normal;word-break:keep-all}
    .path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.9em;\
    overflow-wrap:anywhere}
    code.cmd,pre.cmd{display:block;font-size:10.5px;line-height:1.4;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 0;\
    padding:2px 5px;color:#334e68}
    a{color:#1d5fa8}
    .wrap{max-width:1140px;margin:0 auto;padding:0 28px}
    header.masthead{background:linear-gradient(135deg,#102a43,#243b53);color:#fff;padding:26px 0 22px}
    .eyebrow{text-transform:uppercase;letter-spacing:.09em;font-size:12px;color:#9fb3c8;font-weight:600}
    h1{font-size:30px;line-height:1.2;margin:6px 0 8px;font-weight:700;overflow-wrap:anywhere}
    .masthead .meta{color:#d9e2ec;margin:0;font-size:14px}
    nav.toc{background:#fff;border-bottom:1px solid var(--line);font-size:14px}
    nav.toc .wrap{display:flex;flex-wrap:wrap;gap:4px 22px;padding-top:9px;padding-bottom:9px}
    nav.toc a{color:var(--accent);text-decoration:none;font-weight:600}
    section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:22px 28px;margin:22px 0;\
    box-shadow:0 1px 2px rgba(16,42,67,.05)}
    h2{font-size:21px;margin:0 0 14px;padding-bottom:8px;border-bottom:2px solid var(--soft)}
    h3{font-size:17px;margin:20px 0 8px}
    h4{font-size:15px;margin:0 0 8px;overflow-wrap:anywhere}
    h5{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:14px 0 6px}
    p.lead{font-size:16px;margin:4px 0 16px;max-width:60em}
    .note{color:var(--muted);font-size:13px}
    .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(112px,1fr));gap:10px;margin:6px 0 18px}
    .card{border:1px solid var(--line);border-top:4px solid var(--accent);border-radius:6px;padding:9px 10px;background:#fff}
    .card .n{display:block;font-size:22px;font-weight:700;line-height:1.15;font-variant-numeric:tabular-nums;white-space:nowrap}
    .card .l{display:block;font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
    .card.high{border-top-color:var(--high)}.card.high .n{color:var(--high)}
    .card.medium{border-top-color:var(--medium)}.card.medium .n{color:var(--medium)}
    .card.low{border-top-color:var(--low)}.card.low .n{color:var(--low)}
    .card.info{border-top-color:var(--info)}.card.info .n{color:var(--info)}
    .sev{display:inline-block;min-width:58px;white-space:nowrap;text-align:center;padding:1px 8px;border-radius:10px;font-size:11px;\
    font-weight:700;color:#fff;text-transform:uppercase;letter-spacing:.04em;vertical-align:1px}
    .sev.high{background:var(--high)}.sev.medium{background:var(--medium)}.sev.low{background:var(--low)}.sev.info{background:var(--info)}
    .tag{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;font-weight:700;text-transform:uppercase;\
    border:1px solid currentColor}
    .tag.new{color:var(--high)}.tag.unchanged{color:var(--muted)}.tag.fixed{color:var(--ok)}
    ol.risks{padding-left:0;list-style:none;margin:0;display:grid;grid-template-columns:1fr 1fr;gap:10px 14px}
    ol.risks li{border:1px solid var(--line);border-left:5px solid var(--high);border-radius:6px;padding:9px 14px;font-size:14px}
    ol.risks p.fix{color:var(--muted);font-size:13px}
    ol.risks li.medium{border-left-color:var(--medium)}
    ol.risks .t{font-weight:700}
    ol.risks p{margin:3px 0 0}
    .grid2{display:grid;grid-template-columns:1fr 1fr;gap:26px}
    table{border-collapse:collapse;width:100%;font-size:13.5px}
    th,td{text-align:left;padding:6px 9px;border-bottom:1px solid #e4e7eb;vertical-align:top;overflow-wrap:break-word}
    thead th{background:var(--soft);font-weight:700;font-size:12.5px;color:#334e68;white-space:nowrap}
    td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    td.nowrap{white-space:nowrap}
    tbody tr:hover{background:#f8fafc}
    tr.high td:first-child{box-shadow:inset 4px 0 var(--high)}
    tr.medium td:first-child{box-shadow:inset 4px 0 var(--medium)}
    tr.low td:first-child{box-shadow:inset 4px 0 var(--low)}
    tr.info td:first-child{box-shadow:inset 4px 0 var(--info)}
    table.groups,table.services{table-layout:fixed}
    table.groups .c-id{width:5%}table.groups .c-sev{width:8.5%}table.groups .c-rule{width:18%}
    table.groups .c-svc{width:13.5%}table.groups .c-count{width:8%}table.groups .c-seen{width:10.5%}
    table.groups .c-base{width:9%}
    table.groups td{font-size:12.5px}
    ul.ex{margin:0;padding:0;list-style:none}ul.ex li{margin:0 0 2px}
    .conn{color:var(--muted)}
    .host{display:block;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;\
    font-size:11.5px;overflow-wrap:break-word;color:#334e68}
    .p-only{display:none}
    td.num .note{white-space:normal}
    table.services .c-svc{width:17%}table.services .c-host{width:17%}table.services .c-proto{width:17%}
    td.has-high{color:var(--high);font-weight:700}td.has-medium{color:var(--medium);font-weight:700}
    td.has-low{color:var(--low);font-weight:700}td.has-info{color:var(--info);font-weight:700}
    table.captures .c-path,table.switches .c-path{width:34%}
    th.sortable{cursor:pointer}
    th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
    .controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:0 0 12px}
    .controls input,.controls select{font:inherit;padding:5px 9px;border:1px solid #bcccdc;border-radius:5px}
    .controls input{flex:1;min-width:240px}
    .chart{display:block;max-width:100%;height:auto;margin:6px 0 4px}
    .chart text{font-size:12px;fill:#334e68}
    .chart .mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:11.5px}
    .chart .value{font-weight:700;fill:#243b53}
    .chart .legend{font-size:11.5px}
    .chart .axis-note{font-size:11px;fill:#829ab1}
    .chart .axis-label{font-size:11px}
    .chart a:hover text{fill:#1d5fa8}
    .chart .cell-value{font-weight:700;font-size:13px;fill:#fff}
    .chart .cell-value.on-light{fill:#243b53}
    .sev-high{fill:var(--high)}.sev-medium{fill:var(--medium)}.sev-low{fill:var(--low)}.sev-info{fill:var(--info)}
    .switch-bar{fill:#486581}.v-agreed{fill:#3f9142}.v-different{fill:var(--high)}.v-unrecognised{fill:#8a99a8}
    .v-none{fill:#d9e2ec}.empty-cell{fill:#f7f9fb;stroke:#e4e7eb}
    .axis,.tick{stroke:#9fb3c8;stroke-width:1}
    .figure{margin:8px 0 22px}
    .figure h3{margin-top:6px}
    article.rule{border-top:3px solid var(--soft);padding-top:16px;margin-top:22px}
    article.rule:first-of-type{border-top:0;margin-top:0;padding-top:0}
    article.rule>header{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
    article.rule>header h3{margin:0}
    dl.explain{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:10px 0 12px;\
    background:var(--soft);border-radius:6px;padding:10px 14px}
    dl.explain dt{font-weight:700;color:#334e68}dl.explain dd{margin:0}
    .occurrence{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:12px 0;background:#fff}
    .occurrence.high{border-left:5px solid var(--high)}.occurrence.medium{border-left:5px solid var(--medium)}
    .occurrence.low{border-left:5px solid var(--low)}.occurrence.info{border-left:5px solid var(--info)}
    .fid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;color:var(--muted);text-decoration:none;margin-right:6px}
    dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:6px 0;font-size:13.5px}
    dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
    ul.frames{margin:0;padding-left:18px;font-size:13.5px}
    table.kv th{width:190px;background:none;color:#334e68;font-weight:600;white-space:normal}
    table.kv td,table.kv th{font-size:13px;padding:4px 8px}
    pre{background:#f7f9fb;border:1px solid var(--line);border-radius:5px;padding:8px 10px;margin:4px 0;font-size:12px;\
    line-height:1.45;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
    pre.hex{white-space:pre;overflow-wrap:normal}
    .heads{display:grid;grid-template-columns:1fr 1fr;gap:14px}
    footer{color:var(--muted);font-size:12.5px;padding:6px 0 30px}
    @media (max-width:800px){.grid2,.heads,ol.risks{grid-template-columns:1fr}}
    @media print{
    @page{margin:12mm 11mm}
    body{background:#fff;font-size:10.5pt}
    .wrap{max-width:none;padding:0}
    header.masthead{background:#fff;color:#000;padding:0 0 8pt;border-bottom:2pt solid #102a43}
    .eyebrow,.masthead .meta{color:#333}
    nav.toc,.controls,.p-drop,code.p-drop,tr.p-drop{display:none !important}
    p.p-only{display:block}
    ul.ex li:nth-child(n+2),.host+.host{display:none}
    .cards{grid-template-columns:repeat(4,1fr);gap:6pt}.card .n{font-size:18pt}
    ol.risks{grid-template-columns:1fr}
    table.groups .c-id{width:6%}table.groups .c-sev{width:10%}table.groups .c-rule{width:19%}
    table.groups .c-svc{width:18%}table.groups .c-count{width:10%}table.groups .c-seen{width:11.5%}
    table.groups .c-base{width:10%}
    thead th{white-space:normal}
    table.groups td,table.services td{font-size:8pt;padding:3pt 4pt}
    th,td{padding:3pt 4pt}
    .sev{min-width:0;padding:0 4pt;font-size:7pt}
    code.cmd,pre.cmd{font-size:6.5pt}
    .chart{max-width:100%}
    section{border:0;box-shadow:none;border-radius:0;padding:0;margin:14pt 0}
    section#groups,section#details{break-before:page}
    ol.risks li,.card,.figure,dl.explain,tr,pre,.heads>div,ul.frames{break-inside:avoid}
    .occurrence{padding:8pt 10pt;margin:8pt 0}
    .occurrence h4{break-after:avoid}
    h2,h3,h4,h5{break-after:avoid}
    a{color:inherit;text-decoration:none}
    .refs a::after{content:" (" attr(href) ")";font-size:8pt;color:#555;overflow-wrap:anywhere}
    pre{font-size:7.5pt;padding:4pt 6pt}
    h5{margin:8pt 0 3pt}
    p.note{margin:3pt 0}
    table{font-size:9pt}
    }
    """

    static let script = """
    (function(){
    [].forEach.call(document.querySelectorAll(".controls[data-for]"),function(host){
    var table=document.getElementById(host.getAttribute("data-for"));
    if(!table||!table.tBodies.length)return;
    var body=table.tBodies[0],rows=[].slice.call(body.rows),heads=table.tHead.rows[0].cells;
    rows.forEach(function(r,i){r.setAttribute("data-order",String(i));});
    var input=document.createElement("input");
    input.type="search";input.placeholder="Filter: rule, service, host, capture path…";
    input.setAttribute("aria-label","Filter rows");
    var select=document.createElement("select");
    select.setAttribute("aria-label","Severity");
    [["","All severities"],["high","High"],["medium","Medium"],["low","Low"],["info","Info"]].forEach(function(o){
    var e=document.createElement("option");e.value=o[0];e.textContent=o[1];select.appendChild(e);});
    var count=document.createElement("span");count.className="note";
    host.appendChild(input);host.appendChild(select);host.appendChild(count);
    rows.forEach(function(r){r.searchText=r.textContent.toLowerCase();});
    function apply(){var q=input.value.toLowerCase(),s=select.value,n=0;
    rows.forEach(function(r){var ok=(!s||r.getAttribute("data-severity")===s)&&(!q||r.searchText.indexOf(q)>=0);
    r.hidden=!ok;if(ok)n++;});count.textContent=n.toLocaleString("en-US")+" of "+rows.length.toLocaleString("en-US")+" rows shown";}
    function key(r,i){var c=r.cells[i];return c?(c.getAttribute("data-sort")||c.textContent):"";}
    [].forEach.call(heads,function(th,i){
    th.className+=" sortable";th.tabIndex=0;th.title="Sort";
    function sort(){
    var dir=th.getAttribute("aria-sort")==="ascending"?-1:1,num=th.hasAttribute("data-numeric");
    [].forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
    th.setAttribute("aria-sort",dir===1?"ascending":"descending");
    rows.sort(function(a,b){var x=key(a,i),y=key(b,i);if(num){x=parseFloat(x)||0;y=parseFloat(y)||0;}
    return (x<y?-1:x>y?1:0)*dir||(+a.getAttribute("data-order"))-(+b.getAttribute("data-order"));});
    rows.forEach(function(r){body.appendChild(r);});}
    th.addEventListener("click",sort);
    th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();sort();}});});
    input.addEventListener("input",apply);select.addEventListener("change",apply);apply();
    });
    })();
    """
}
