(function(){
"use strict";
document.documentElement.classList.add("js");
var rank={info:0,low:1,medium:2,high:3,critical:4};
function $(id){return document.getElementById(id);}
function all(sel,root){return Array.prototype.slice.call((root||document).querySelectorAll(sel));}
// Open the target detail that holds the element a link or the address
// bar points at, then bring it into view.
function reveal(id){
var el=id&&document.getElementById(id);if(!el)return;
for(var p=el;p;p=p.parentElement){if(p.tagName==="DETAILS")p.open=true;}
if(el.hidden){var q=$("q");if(q){q.value="";apply();}}
el.classList.add("hit");setTimeout(function(){el.classList.remove("hit");},1600);
el.scrollIntoView({block:"start"});}
document.addEventListener("click",function(ev){
var a=ev.target.closest&&ev.target.closest("a[href^='#']");if(!a)return;
var id=decodeURIComponent(a.getAttribute("href").slice(1));
if(document.getElementById(id)){ev.preventDefault();history.pushState(null,"","#"+id);reveal(id);}});
window.addEventListener("hashchange",function(){reveal(decodeURIComponent(location.hash.slice(1)));});
var q=$("q"),sev=$("sev"),lvl=$("lvl"),sup=$("sup"),chg=$("chg"),count=$("shown");
var table=$("findings-table");
var rows=table?all("tbody tr",table):[];
var groups=all("#exposures .target");
function apply(){
if(!q)return;
var t=q.value.toLowerCase().trim(),s=sev.value,l=lvl.value,n=0;
rows.forEach(function(r){
var hay=(r.getAttribute("data-ids")+" "+r.textContent).toLowerCase();
var ok=(!t||hay.indexOf(t)>=0)&&(!s||rank[r.getAttribute("data-severity")]>=rank[s])&&(!l||r.getAttribute("data-level")===l)&&(sup.checked||r.getAttribute("data-suppressed")!=="true")&&(!chg||!chg.checked||r.getAttribute("data-change")!=="");
r.hidden=!ok;if(ok)n++;});
groups.forEach(function(g){g.hidden=!!t&&g.textContent.toLowerCase().indexOf(t)<0||!!l&&g.getAttribute("data-level")!==l;});
count.textContent=n+" of "+rows.length+" findings shown";}
if(q){[q,sev,lvl,sup,chg].forEach(function(e){if(e){e.addEventListener("input",apply);e.addEventListener("change",apply);}});apply();}
// Sorting: a click on a column title sorts by it, a second click reverses.
all("table.sortable th[data-sort]").forEach(function(th,i){
th.tabIndex=0;th.setAttribute("role","button");
function sort(){
var num=th.getAttribute("data-sort")==="num",dir=th.getAttribute("aria-sort")==="descending"?1:-1;
if(!num)dir=th.getAttribute("aria-sort")==="ascending"?-1:1;
all("th",th.parentElement).forEach(function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",dir>0?"ascending":"descending");
var body=th.closest("table").tBodies[0];
var list=all("tr",body).map(function(r,k){var c=r.cells[i];return{r:r,k:k,v:c.hasAttribute("data-v")?+c.getAttribute("data-v"):c.textContent.trim().toLowerCase()};});
list.sort(function(a,b){return a.v<b.v?-dir:a.v>b.v?dir:a.k-b.k;});
list.forEach(function(x){body.appendChild(x.r);});}
th.addEventListener("click",sort);th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();sort();}});});
if(location.hash)reveal(decodeURIComponent(location.hash.slice(1)));
})();
