// Overview photos (#23): drag on a photo to add a blur box; the preview is reloaded as the
// photo will leave. Approve buttons wait while a preview loads: the server approves only
// a version it has sent to this officer's screen.
(function () {
  "use strict";
  let loading = 0;
  const approveButtons = () => document.querySelectorAll("button.approve");
  const settle = () => approveButtons().forEach(b => { b.disabled = loading > 0; });
  document.querySelectorAll(".photo").forEach(card => {
    const img = card.querySelector("img"), field = card.querySelector("input.boxes");
    if (!img || !field) return;
    const refresh = () => {
      loading += 1; settle();
      const done = () => { loading = Math.max(0, loading - 1); settle(); };
      img.addEventListener("load", done, {once: true});
      img.addEventListener("error", done, {once: true});
      img.src = img.dataset.base + "?boxes=" + encodeURIComponent(field.value);
    };
    const preview = card.querySelector(".preview");
    if (preview) preview.addEventListener("click", refresh);
    field.addEventListener("change", refresh);
    let start = null;
    const at = e => {
      const r = img.getBoundingClientRect(), s = img.naturalWidth / r.width;
      return [Math.round((e.clientX - r.left) * s), Math.round((e.clientY - r.top) * s)];
    };
    img.addEventListener("mousedown", e => { e.preventDefault(); start = at(e); });
    img.addEventListener("mouseup", e => {
      if (!start) return;
      const end = at(e);
      const box = [Math.min(start[0], end[0]), Math.min(start[1], end[1]),
                   Math.abs(end[0] - start[0]), Math.abs(end[1] - start[1])];
      start = null;
      if (box[2] < 4 || box[3] < 4) return;
      field.value = (field.value ? field.value + ";" : "") + box.join(",");
      refresh();
    });
  });
  const all = document.getElementById("review-all");
  if (all) all.addEventListener("change", () => {
    document.querySelectorAll("input.chosen").forEach(c => { c.checked = all.checked; });
  });
})();
