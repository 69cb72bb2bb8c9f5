// Privacy masks drawn on a live frame (anpr-provision masks, #22). Coordinates are the
// frame's own pixels, whatever size the canvas is shown at.
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const headers = { "X-Mask-Token": token };
  const canvas = document.getElementById("view");
  const context = canvas.getContext("2d");
  const status = document.getElementById("status");
  let frame = null;
  let masks = [];
  let drawing = [];

  function say(text, kind) {
    status.textContent = text;
    status.className = kind || "";
  }

  function path(points) {
    context.beginPath();
    points.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
  }

  function draw() {
    if (frame) context.drawImage(frame, 0, 0);
    const line = Math.max(2, canvas.width / 400);
    context.lineWidth = line;
    for (const polygon of masks) {
      path(polygon);
      context.closePath();
      context.fillStyle = "rgba(220, 0, 0, 0.45)";
      context.fill();
      context.strokeStyle = "rgb(255, 0, 0)";
      context.stroke();
    }
    if (drawing.length) {
      path(drawing);
      context.strokeStyle = "rgb(255, 210, 0)";
      context.stroke();
      for (const [x, y] of drawing) context.fillRect(x - line * 2, y - line * 2, line * 4, line * 4);
    }
    canvas.dataset.masks = String(masks.length);
  }

  async function loadFrame() {
    canvas.dataset.ready = "0";
    say("Taking a frame from the camera…");
    const answer = await fetch("/frame.jpg", { headers, cache: "no-store" });
    if (!answer.ok) {
      say(`No frame: ${await answer.text()}`, "error");
      return;
    }
    const image = new Image();
    image.src = URL.createObjectURL(await answer.blob());
    await image.decode();
    frame = image;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    draw();
    canvas.dataset.ready = "1";
    say(`Frame ${image.naturalWidth}×${image.naturalHeight}; ${masks.length} mask(s).`);
  }

  async function loadMasks() {
    const answer = await fetch("/masks", { headers, cache: "no-store" });
    if (!answer.ok) return say("Open the address printed by anpr-provision masks.", "error");
    const body = await answer.json();
    masks = body.masks;
    document.getElementById("camera").textContent = body.camera;
  }

  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.round((event.clientX - box.left) * canvas.width / box.width);
    const y = Math.round((event.clientY - box.top) * canvas.height / box.height);
    drawing.push([Math.min(Math.max(x, 0), canvas.width - 1), Math.min(Math.max(y, 0), canvas.height - 1)]);
    draw();
  });
  document.getElementById("close").addEventListener("click", () => {
    if (drawing.length < 3) return say("A mask needs at least 3 points.", "error");
    masks.push(drawing);
    drawing = [];
    draw();
    say(`${masks.length} mask(s), not saved yet.`);
  });
  document.getElementById("undo").addEventListener("click", () => { drawing.pop(); draw(); });
  document.getElementById("remove").addEventListener("click", () => { masks.pop(); draw(); });
  document.getElementById("clear").addEventListener("click", () => { masks = []; drawing = []; draw(); });
  document.getElementById("frame").addEventListener("click", loadFrame);
  document.getElementById("save").addEventListener("click", async () => {
    if (drawing.length) return say("Close or undo the polygon being drawn first.", "error");
    const answer = await fetch("/masks", {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify({ masks }),
    });
    const body = await answer.json();
    if (answer.ok) say(`Saved ${body.saved} mask(s) to ${body.config}. Restart the agent.`, "saved");
    else say(`Not saved: ${body.error}`, "error");
  });

  loadMasks().then(loadFrame);
})();
