// A long count or search (#23): asks how far it is each half second and shows it; when it
// is done the same page shows the answer (the count, the results, or why it was refused).
(function () {
  "use strict";
  const box = document.getElementById("search-job");
  if (!box) return;
  const bar = document.getElementById("search-progress");
  const text = document.getElementById("search-parts");
  const ask = async () => {
    let state;
    try {
      const answer = await fetch(box.dataset.progress, {cache: "no-store"});
      state = await answer.json();
      if (!answer.ok) throw new Error(state.error || answer.status);
    } catch (e) { setTimeout(ask, 2000); return; }
    if (state.total !== null) {
      bar.max = Math.max(1, state.total); bar.value = state.done;
      text.textContent = box.dataset.partsTemplate
        .replace("DONE", state.done).replace("TOTAL", state.total);
    }
    if (state.ready) {
      text.textContent = box.dataset.readyText;
      window.location.replace(box.dataset.answer);
      return;
    }
    setTimeout(ask, 500);
  };
  ask();
})();
