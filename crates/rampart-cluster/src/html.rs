//! The HTML report: one self-contained file (inline CSS, JS and SVG; no network), readable on
//! screen and in print. The findings are embedded as JSON; the script builds the filters
//! (severity, namespace, check) and the table from it. Without script the server-rendered
//! table of findings still shows.

use crate::report::{ClusterReport, Status};
use std::fmt::Write as _;

/// How many attack paths the report lists with their steps (the graph draws
/// [`rampart_paths::GRAPH_PATHS`]); `rampart paths` shows them all.
const PATHS_LISTED: usize = 25;

use rampart_paths::html_escape as esc;

/// JSON safe inside a `<script>` element.
fn script_json(r: &ClusterReport) -> String {
    serde_json::to_string(r)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A ring gauge of a score out of 100.
fn gauge(label: &str, score: u32) -> String {
    let r = 36.0_f64;
    let c = 2.0 * std::f64::consts::PI * r;
    let filled = c * f64::from(score.min(100)) / 100.0;
    let color = match score {
        80.. => "#2e7d32",
        50..=79 => "#ef6c00",
        _ => "#c62828",
    };
    format!(
        r##"<figure class="gauge"><svg viewBox="0 0 100 100" width="110" height="110" role="img" aria-label="{l} score {score} of 100"><circle cx="50" cy="50" r="{r}" fill="none" stroke="#e0e0e0" stroke-width="10"/><circle cx="50" cy="50" r="{r}" fill="none" stroke="{color}" stroke-width="10" stroke-dasharray="{filled:.2} {c:.2}" transform="rotate(-90 50 50)"/><text x="50" y="56" text-anchor="middle" font-size="22" font-weight="700" fill="#222">{score}</text></svg><figcaption>{l}</figcaption></figure>"##,
        l = esc(label)
    )
}

const CSS: &str = r#"
:root{--crit:#8e0000;--high:#c62828;--med:#ef6c00;--low:#1565c0;--info:#607d8b}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header,main{max-width:1200px;margin:0 auto;padding:16px 24px}header h1{margin:0 0 4px;font-size:22px}
.muted{color:#666}.cards{display:flex;flex-wrap:wrap;gap:16px;margin:12px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 16px;min-width:160px}
.gauge{margin:0;text-align:center}.gauge figcaption{font-weight:600;text-transform:capitalize}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:4px;color:#fff;font-size:12px;font-weight:600;padding:1px 6px}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med)}.sev-low{background:var(--low)}.sev-info{background:var(--info)}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #eee;padding:6px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
#findings table{table-layout:fixed}#findings th:nth-child(1){width:92px}#findings th:nth-child(2){width:84px}#findings th:nth-child(3){width:22%}#findings th:nth-child(4){width:26%}
.ptr{font-size:12px;color:#666}
th{background:#f0f0f0;position:sticky;top:0}code{font-size:12px;background:#f3f3f3;padding:0 3px;border-radius:3px}
#filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end;margin:8px 0}#filters label{display:flex;flex-direction:column;font-size:12px;color:#555}
select,input{font:inherit;padding:3px 6px}.new{color:#c62828;font-weight:700}.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;background:#eee;margin-top:6px}
.bar span{display:block;height:100%}
@media print{body{background:#fff}#filters,.noprint{display:none!important}th{position:static}tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"#;

const JS: &str = r#"
(function(){
  var data=JSON.parse(document.getElementById('report-data').textContent);
  var order={critical:0,high:1,medium:2,low:3,info:4};
  var f=document.getElementById('filters');
  function uniq(a){return Array.from(new Set(a)).sort();}
  function select(id,label,values){
    var l=document.createElement('label');l.textContent=label;
    var s=document.createElement('select');s.id=id;
    var all=document.createElement('option');all.value='';all.textContent='all';s.appendChild(all);
    values.forEach(function(v){var o=document.createElement('option');o.value=v;o.textContent=v;s.appendChild(o);});
    s.addEventListener('change',draw);l.appendChild(s);f.appendChild(l);return s;
  }
  var sev=select('f-severity','Severity',uniq(data.findings.map(function(x){return x.severity;})).sort(function(a,b){return order[a]-order[b];}));
  var ns=select('f-namespace','Namespace',uniq(data.findings.map(function(x){return x.object&&x.object.namespace||'(cluster-scoped)';})));
  var chk=select('f-check','Check',uniq(data.findings.map(function(x){return x.check;})));
  var lay=select('f-layer','Layer',uniq(data.findings.map(function(x){return x.layer;})));
  var ql=document.createElement('label');ql.textContent='Search';var q=document.createElement('input');q.id='f-text';q.type='search';q.addEventListener('input',draw);ql.appendChild(q);f.appendChild(ql);
  var count=document.createElement('span');count.id='f-count';count.className='muted';f.appendChild(count);
  var body=document.getElementById('findings-body');
  function cell(tr,text,cls){var td=document.createElement('td');if(cls){var s=document.createElement('span');s.className=cls;s.textContent=text;td.appendChild(s);}else{td.textContent=text;}tr.appendChild(td);return td;}
  function draw(){
    var t=q.value.toLowerCase();var shown=0;body.textContent='';
    data.findings.forEach(function(x){
      var n=x.object&&x.object.namespace||'(cluster-scoped)';
      if(sev.value&&x.severity!==sev.value)return;if(ns.value&&n!==ns.value)return;
      if(chk.value&&x.check!==chk.value)return;if(lay.value&&x.layer!==lay.value)return;
      var obj=x.object?(x.object.kind+' '+(x.object.namespace?x.object.namespace+'/':'')+x.object.name):'';
      if(t&&(x.message+' '+x.check+' '+obj).toLowerCase().indexOf(t)<0)return;
      var tr=document.createElement('tr');tr.className='finding';tr.dataset.severity=x.severity;tr.dataset.namespace=n;tr.dataset.check=x.check;
      cell(tr,x.severity,'sev sev-'+x.severity);cell(tr,x.layer);
      var c=cell(tr,'');var code=document.createElement('code');code.textContent=x.check;c.appendChild(code);
      if(x.status==='new'){var b=document.createElement('span');b.className='new';b.textContent=' new';c.appendChild(b);}
      var o=cell(tr,obj);if(x.pointer){var p=document.createElement('div');p.className='ptr';p.textContent=x.pointer;o.appendChild(p);}
      var m=cell(tr,x.message);if(x.remediation){m.title=x.remediation;}
      body.appendChild(tr);shown++;
    });
    count.textContent=shown+' of '+data.findings.length+' findings';
  }
  draw();
  document.body.dataset.ready='1';
})();
"#;

/// The whole page.
pub fn render(r: &ClusterReport) -> String {
    let mut h = String::with_capacity(4096 + r.findings.len() * 400);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>rampart cluster report</title><style>{CSS}{}</style></head><body>\n<header><h1>rampart cluster report</h1>\
         <div class=\"muted\">{} objects · {} findings · rampart {}</div></header>\n<main>",
        rampart_paths::HTML_CSS,
        r.objects,
        r.findings.len(),
        esc(&r.tool_version)
    );
    // summary
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">"
    );
    h.push_str(&gauge("overall", r.score));
    for l in &r.layers {
        h.push_str(&gauge(l.layer.as_str(), l.score));
    }
    let _ = write!(h, "<div class=\"card\"><strong>By severity</strong><ul>");
    for s in ["critical", "high", "medium", "low", "info"] {
        if let Some(n) = r.by_severity.get(s) {
            let _ = write!(h, "<li><span class=\"sev sev-{s}\">{s}</span> {n}</li>");
        }
    }
    let _ = write!(h, "</ul></div>");
    if r.baseline {
        let new = r
            .findings
            .iter()
            .filter(|f| f.status == Some(Status::New))
            .count();
        let _ = write!(
            h,
            "<div class=\"card\" id=\"baseline\"><strong>Since the baseline</strong><p><span class=\"new\">{new} new</span> · {} fixed</p></div>",
            r.fixed.len()
        );
    }
    h.push_str("</div></section>\n");
    // layers
    let _ = write!(
        h,
        "<section id=\"layers\"><h2>Layers</h2><table><thead><tr><th>Layer</th><th>Score</th><th>Findings</th><th>Objects</th><th>Severity mix</th></tr></thead><tbody>"
    );
    for l in &r.layers {
        let total = l.findings.max(1) as f64;
        let mut bar = String::new();
        for (s, var) in [
            ("critical", "crit"),
            ("high", "high"),
            ("medium", "med"),
            ("low", "low"),
            ("info", "info"),
        ] {
            if let Some(n) = l.by_severity.get(s) {
                let _ = write!(
                    bar,
                    "<span title=\"{n} {s}\" style=\"width:{:.1}%;background:var(--{var})\"></span>",
                    *n as f64 * 100.0 / total
                );
            }
        }
        let _ = write!(
            h,
            "<tr class=\"layer\" data-layer=\"{0}\"><td>{0}</td><td>{1}/100</td><td>{2}</td><td>{3}</td><td><div class=\"bar\">{bar}</div></td></tr>",
            l.layer.as_str(),
            l.score,
            l.findings,
            l.objects
        );
    }
    let _ = write!(
        h,
        "</tbody></table><p class=\"muted\">Scoring: {}. The cloud layer is what the Kubernetes API shows of it.</p></section>",
        esc(&r.scoring)
    );
    h.push('\n');
    if !r.not_readable.is_empty() {
        let _ = write!(
            h,
            "<section id=\"not-readable\"><h2>Not readable</h2><p>The credentials could not list these kinds; the audit went on without them.</p><ul>"
        );
        for n in &r.not_readable {
            let _ = write!(
                h,
                "<li><strong>{}</strong> — {} — needs <code>{}</code></li>",
                esc(&n.kind),
                esc(&n.reason),
                esc(&n.rbac)
            );
        }
        h.push_str("</ul></section>\n");
    }
    if !r.notes.is_empty() {
        h.push_str("<section id=\"notes\"><h2>Notes</h2><p>What the scan could not do; the audit went on without it.</p><ul>");
        for n in &r.notes {
            let _ = write!(h, "<li class=\"note\">{}</li>", esc(n));
        }
        h.push_str("</ul></section>\n");
    }
    // the attack paths: the graph and a table per path (the first PATHS_LISTED)
    let _ = writeln!(
        h,
        "<section id=\"attack-paths\"><h2>Attack paths</h2>{}</section>",
        rampart_paths::render_html_section(&r.paths, PATHS_LISTED)
    );
    // findings: the script replaces the rows with filtered ones
    let _ = write!(
        h,
        "<section id=\"findings\"><h2>Findings</h2><div id=\"filters\" class=\"noprint\"></div><table><thead><tr><th>Severity</th><th>Layer</th><th>Check</th><th>Object</th><th>Message</th></tr></thead><tbody id=\"findings-body\">"
    );
    for f in &r.findings {
        let obj = f
            .object
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"finding\"><td><span class=\"sev sev-{0}\">{0}</span></td><td>{1}</td><td><code>{2}</code></td><td>{3}<div class=\"ptr\">{4}</div></td><td>{5}</td></tr>",
            f.severity.as_str(),
            f.layer.as_str(),
            esc(&f.check),
            esc(&obj),
            esc(f.pointer.as_deref().unwrap_or("")),
            esc(&f.message)
        );
    }
    h.push_str("</tbody></table></section>\n");
    if !r.fixed.is_empty() {
        let _ = write!(
            h,
            "<section id=\"fixed\"><h2>Fixed since the baseline</h2><ul>"
        );
        for f in &r.fixed {
            let _ = write!(
                h,
                "<li><span class=\"sev sev-{0}\">{0}</span> <code>{1}</code> {2}</li>",
                f.severity.as_str(),
                esc(&f.check),
                esc(&f.message)
            );
        }
        h.push_str("</ul></section>\n");
    }
    let _ = write!(
        h,
        "</main>\n<script type=\"application/json\" id=\"report-data\">{}</script>\n<script>{JS}{}</script>\n</body></html>\n",
        script_json(r),
        rampart_paths::HTML_JS
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
