// The camera map (#23): Leaflet with MarkerCluster, both served by the central itself, on a
// basemap of the Netherlands drawn from the central's own GeoJSON (no tile server).
//
// Each element with class "camera-map" becomes a map. Its data attributes say what to show:
//   data-cameras   the id of a <script type="application/json"> holding the cameras (GeoJSON)
//   data-basemap   the basemap's URL
//   data-pick      a form selector: clicking a camera ticks its box input[name=camera] there
//   data-fit       "cameras": start zoomed to the cameras rather than the whole country
//   data-remember  a key: the view survives the page's own refresh (sessionStorage)
// Nothing here writes HTML from data: labels are set as text, so a camera id cannot inject.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const HEALTH = { OK: "#0a6b2d", DEGRADED: "#d68a00", OFFLINE: "#b00020" };
  const CRITERION = { a: "#c0392b", b: "#1f5fa8", c: "#7d3c98" };
  const WORST = ["OFFLINE", "DEGRADED", "OK"];
  const COUNTRY = [[50.7, 3.2], [53.6, 7.3]];
  const BASEMAP = {
    country: { color: "#888", weight: 1, fillColor: "#f4f1e8", fillOpacity: 1 },
    province: { color: "#b9b2a0", weight: 1, dashArray: "3 3", fill: false },
    motorway: { color: "#e0a030", weight: 2 },
  };

  function svg(name, attributes) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
    return node;
  }

  function colour(p) {
    return p.state ? HEALTH[p.state] || HEALTH.OFFLINE : CRITERION[p.criterion] || "#555";
  }

  // A dot in the camera's colour, and a wedge pointing the way the traffic it reads goes.
  function cameraIcon(p) {
    const drawing = svg("svg", { width: 30, height: 30, viewBox: "-15 -15 30 30", class: "camera-icon" });
    if (p.bearing !== null && p.bearing !== undefined) {
      drawing.appendChild(svg("path", {
        class: "heading", d: "M0,-14 L6,-5 L-6,-5 Z", fill: colour(p),
        transform: `rotate(${Number(p.bearing)})`,
      }));
    }
    const dot = svg("circle", { class: "camera", r: 6, fill: colour(p), stroke: "#fff", "stroke-width": 2 });
    dot.dataset.camera = p.camera_id;
    if (p.state) dot.dataset.state = p.state;
    drawing.appendChild(dot);
    return L.divIcon({ html: drawing, className: "camera-marker", iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  function describe(p) {
    const parts = [`${p.camera_id} (${p.road} ${p.direction})`];
    if (p.state_label || p.state) parts.push(p.state_label || p.state);
    if (p.criterion_label || p.criterion_text) parts.push(`${p.criterion}: ${p.criterion_label || p.criterion_text}`);
    return parts.join(" · ");
  }

  function popup(p, linkText) {
    const box = document.createElement("div");
    const title = document.createElement("strong");
    title.textContent = describe(p);
    box.appendChild(title);
    if (p.aim) {  // the aim snapshot of the camera's commissioning report: masked, plates blurred
      const aim = document.createElement("img");
      aim.src = p.aim;
      aim.width = 160;
      aim.className = "aim";
      aim.alt = "";
      box.appendChild(document.createElement("br"));
      box.appendChild(aim);
    }
    if (p.link) {
      const link = document.createElement("a");
      link.href = p.link;
      link.textContent = linkText;
      box.appendChild(document.createElement("br"));
      box.appendChild(link);
    }
    return box;
  }

  // A cluster shows its count, in the colour of its worst camera where health is known.
  function clusterIcon(cluster) {
    const count = cluster.getChildCount();
    const states = cluster.getAllChildMarkers().map(m => m.options.state).filter(Boolean);
    const worst = WORST.find(s => states.includes(s));
    const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    const label = document.createElement("div");
    const number = document.createElement("span");
    number.textContent = String(count);
    label.appendChild(number);
    return L.divIcon({
      html: label, iconSize: [40, 40],
      className: `marker-cluster marker-cluster-${size}` + (worst ? ` cluster-${worst}` : ""),
    });
  }

  function basemap(map, url) {
    return fetch(url, { credentials: "same-origin" }).then(r => r.json()).then(data => {
      L.geoJSON(data, {
        interactive: false,
        style: f => BASEMAP[f.properties.layer] || {},
        pointToLayer: (f, at) => {
          const name = document.createElement("span");
          name.textContent = f.properties.name;
          return L.marker(at, {
            interactive: false, keyboard: false,
            icon: L.divIcon({ html: name, className: "map-city", iconSize: null }),
          });
        },
      }).addTo(map);
    });
  }

  function pickable(el, markers) {
    const form = document.querySelector(el.dataset.pick);
    if (!form) return;
    markers.forEach(marker => {
      const id = marker.options.cameraId;
      const box = form.querySelector(`input[name=camera][value="${CSS.escape(id)}"]`);
      const show = () => {
        const dot = marker.getElement() && marker.getElement().querySelector("circle.camera");
        if (!dot) return;  // inside a cluster now: drawn when it comes apart
        dot.classList.toggle("picked", Boolean(box && box.checked));
        dot.classList.toggle("out-of-scope", !box);
      };
      marker.on("add", show);
      if (!box) return;
      marker.on("click", () => { box.checked = !box.checked; show(); });
      box.addEventListener("change", show);
    });
  }

  function remember(map, key) {
    const saved = JSON.parse(sessionStorage.getItem(key) || "null");
    if (saved) map.setView(saved.center, saved.zoom);
    map.on("moveend", () => sessionStorage.setItem(key, JSON.stringify({
      center: map.getCenter(), zoom: map.getZoom(),
    })));
    return Boolean(saved);
  }

  function build(el) {
    const data = JSON.parse(document.getElementById(el.dataset.cameras).textContent);
    const map = L.map(el, { minZoom: 6, maxZoom: 16, zoomSnap: 0.5, maxBounds: L.latLngBounds(COUNTRY).pad(0.5) });
    map.attributionControl.setPrefix("Leaflet");  // the library's own link points off-site
    map.attributionControl.addAttribution(el.dataset.attribution || "");
    const cluster = L.markerClusterGroup({
      maxClusterRadius: 40, showCoverageOnHover: false, iconCreateFunction: clusterIcon,
    });
    const markers = data.features.map(f => {
      const p = f.properties;
      const [lon, lat] = f.geometry.coordinates;
      const marker = L.marker([lat, lon], {
        icon: cameraIcon(p), cameraId: p.camera_id, state: p.state, title: describe(p),
        alt: describe(p), riseOnHover: true,
      });
      if (!el.dataset.pick) marker.bindPopup(popup(p, el.dataset.linkText || p.link));
      return marker;
    });
    cluster.addLayers(markers);
    if (el.dataset.pick) pickable(el, markers);
    const restored = el.dataset.remember && remember(map, el.dataset.remember);
    if (!restored) {
      if (el.dataset.fit === "cameras" && markers.length) {
        map.fitBounds(L.latLngBounds(markers.map(m => m.getLatLng())).pad(0.4), { maxZoom: 12 });
      } else {
        map.fitBounds(COUNTRY);
      }
    }
    cluster.addTo(map);
    basemap(map, el.dataset.basemap).finally(() => { el.dataset.ready = "1"; });
    el.cameraMap = map;
  }

  document.querySelectorAll(".camera-map").forEach(build);
})();
