// Work a page watches (#23): a package being built, a long count or search. Asks how far it
// is each half second and shows it; when it is done, goes on to `data-then`: the package's
// download (kept in history), or the search's answer (which replaces the progress page,
// `data-replace`). A package that failed says why here; a search's answer page says it.
(function () {
  "use strict";
  const box = document.querySelector("[data-progress][data-then]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[role=status]");
  const ask = async () => {
    let state;
    try {
      const answer = await fetch(box.dataset.progress, {cache: "no-store"});
      state = await answer.json();
      if (!answer.ok) throw new Error(state.error || answer.status);
    } catch (e) { setTimeout(ask, 2000); return; }
    if (state.total !== null) {
      bar.max = Math.max(1, state.total); bar.value = state.done;
      text.textContent = box.dataset.template
        .replace("DONE", state.done).replace("TOTAL", state.total);
    }
    if (state.ready) {
      const failed = state.error && "showError" in box.dataset;
      text.textContent = failed ? state.error : box.dataset.readyText;
      if ("replace" in box.dataset) window.location.replace(box.dataset.then);
      else window.location.assign(box.dataset.then);
      return;
    }
    setTimeout(ask, 500);
  };
  ask();
})();
