(function(){
"use strict";
document.documentElement.classList.add("js");
var rank={info:0,low:1,medium:2,high:3,critical:4};
var q=document.getElementById("q"),sev=document.getElementById("sev"),lvl=document.getElementById("lvl"),sup=document.getElementById("sup"),count=document.getElementById("shown");
if(!q)return;
var rows=Array.prototype.slice.call(document.querySelectorAll("#findings-table tbody tr"));
var groups=Array.prototype.slice.call(document.querySelectorAll("#exposures .target"));
function apply(){
var t=q.value.toLowerCase().trim(),s=sev.value,l=lvl.value,n=0;
rows.forEach(function(r){
var ok=(!t||r.textContent.toLowerCase().indexOf(t)>=0)&&(!s||rank[r.getAttribute("data-severity")]>=rank[s])&&(!l||r.getAttribute("data-level")===l)&&(sup.checked||r.getAttribute("data-suppressed")!=="true");
r.hidden=!ok;if(ok)n++;});
groups.forEach(function(g){g.hidden=!!t&&g.textContent.toLowerCase().indexOf(t)<0||!!l&&g.getAttribute("data-level")!==l;});
count.textContent=n+" of "+rows.length+" findings shown";}
[q,sev,lvl,sup].forEach(function(e){e.addEventListener("input",apply);e.addEventListener("change",apply);});
apply();
})();
