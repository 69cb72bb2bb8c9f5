// A package being built (#23): asks how far it is each half second and shows it; when it
// is ready the same link hands the file over, so the download starts.
(function () {
  "use strict";
  const box = document.getElementById("package-build");
  if (!box) return;
  const bar = document.getElementById("package-progress");
  const text = document.getElementById("package-rows");
  const ask = async () => {
    let state;
    try {
      const answer = await fetch(box.dataset.progress, {cache: "no-store"});
      state = await answer.json();
      if (!answer.ok) throw new Error(state.error || answer.status);
    } catch (e) { setTimeout(ask, 2000); return; }
    if (state.total !== null) {
      bar.max = Math.max(1, state.total); bar.value = state.done;
      text.textContent = box.dataset.rowsTemplate
        .replace("DONE", state.done).replace("TOTAL", state.total);
    }
    if (state.ready) {
      text.textContent = state.error ? state.error : box.dataset.readyText;
      window.location.assign(box.dataset.download);
      return;
    }
    setTimeout(ask, 500);
  };
  ask();
})();
