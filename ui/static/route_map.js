// The console's route map over a street map (ui/tile_map.py builds the page and the data; Leaflet 1.9.4
// is served beside this file). Draws what the schematic SVG draws (ui/map_view.py): district outlines,
// cameras with the way they look, the route's numbered stops joined by a line with arrows, and the
// "where to look next" suggestions, dashed so they never read as part of the confirmed route.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("fs-map-data").textContent);
  // Leaflet puts tooltip strings in as HTML: registry names are admin-typed text
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  // quarter zoom levels fit the route as the SVG does (tiles overlap by half a pixel: no hairline gaps)
  const map = L.map("map", { zoomSnap: 0.25, minZoom: data.tiles.minZoom, maxZoom: Math.max(19, data.tiles.maxNativeZoom) });
  L.tileLayer(data.tiles.url, {
    attribution: esc(data.tiles.attribution || ""), minZoom: data.tiles.minZoom,
    maxNativeZoom: data.tiles.maxNativeZoom, maxZoom: Math.max(19, data.tiles.maxNativeZoom),
    className: "fs-tiles",
  }).addTo(map);
  map.attributionControl.setPrefix(false);
  L.control.scale({ imperial: false }).addTo(map);

  for (const d of data.districts) {
    for (const ring of d.rings) {
      L.polygon(ring, { color: d.colour, weight: 1.5, opacity: 0.8, fillOpacity: 0.13, className: "fs-district", interactive: false }).addTo(map);
    }
  }
  const metres = (lat, lon, bearing, m) => {
    const r = (bearing * Math.PI) / 180;
    return [lat + (m * Math.cos(r)) / 110540, lon + (m * Math.sin(r)) / (111320 * Math.cos((lat * Math.PI) / 180))];
  };
  const onRoute = new Set(data.visits.map((v) => v.camera));
  const label = (direction, offset) => ({ permanent: true, direction, offset, className: "fs-label", opacity: 1 });
  for (const c of data.cameras) {
    L.polyline([[c.lat, c.lon], metres(c.lat, c.lon, c.heading, 18)], { color: c.colour, weight: 2, opacity: 0.7, interactive: false }).addTo(map);
    if (c.highlight) L.circleMarker([c.lat, c.lon], { radius: 10, color: c.colour, weight: 2.5, fill: false, interactive: false }).addTo(map);
    L.circleMarker([c.lat, c.lon], { radius: 6, color: "#ffffff", weight: 1.5, fillColor: c.colour, fillOpacity: 1, className: "fs-camera" })
      .bindTooltip(`<b>${esc(c.id)}</b>: ${esc(c.name)} (${esc(c.district)})`).addTo(map);
    // every camera named, as on the schematic map; a stop's camera is named beside its badge instead
    if (!onRoute.has(c.id)) {
      L.tooltip(label("right", [6, -8])).setLatLng([c.lat, c.lon]).setContent(esc(c.id)).addTo(map);
    }
  }
  const last = data.visits.length ? data.visits[data.visits.length - 1] : null;
  data.suggestions.forEach((s) => {
    if (last && (last.lat !== s.lat || last.lon !== s.lon)) {
      L.polyline([[last.lat, last.lon], [s.lat, s.lon]], { color: data.suggestColour, weight: 1.5, dashArray: "5 4", opacity: 0.8, interactive: false }).addTo(map);
    }
    L.circleMarker([s.lat, s.lon], { radius: 17, color: data.suggestColour, weight: 2, dashArray: "4 3", fill: false, className: "fs-suggestion" })
      .bindTooltip(`next? ${s.n}: ${esc(s.camera)} ${esc(s.label)}`, { permanent: true, direction: "left", offset: [-16, 0] }).addTo(map);
  });
  if (data.visits.length > 1) {
    L.polyline(data.visits.map((v) => [v.lat, v.lon]), { color: data.routeColour, weight: 3.5, opacity: 0.9, className: "fs-route-line" }).addTo(map);
  }
  const badges = L.layerGroup().addTo(map);
  const drawBadges = () => {
    // arrows at each leg's middle point the way the person went; they are redrawn as the zoom changes
    badges.clearLayers();
    for (let i = 1; i < data.visits.length; i++) {
      const a = map.latLngToLayerPoint([data.visits[i - 1].lat, data.visits[i - 1].lon]);
      const b = map.latLngToLayerPoint([data.visits[i].lat, data.visits[i].lon]);
      if (a.distanceTo(b) < 40) continue;
      const angle = (Math.atan2(b.y - a.y, b.x - a.x) * 180) / Math.PI;
      const mid = map.layerPointToLatLng(a.add(b).divideBy(2));
      L.marker(mid, { interactive: false, keyboard: false, icon: L.divIcon({ className: "fs-arrow", iconSize: [16, 16],
        html: `<div style="transform:rotate(${angle}deg)">&#10148;</div>` }) }).addTo(badges);
    }
  };
  const seen = {};
  const named = {};
  const right = {};
  data.visits.forEach((v) => {
    // repeat visits to one camera sit side by side, as on the SVG
    const k = `${v.lat},${v.lon}`;
    const shift = seen[k] || 0;
    const w = Math.max(24, 12 + 7.6 * v.badge.length);
    seen[k] = shift + w + 4;
    right[k] = shift + w / 2;
    L.marker([v.lat, v.lon], { keyboard: false, zIndexOffset: 1000, icon: L.divIcon({ className: "fs-badge fs-stop",
      iconSize: [w, 20], iconAnchor: [w / 2 - shift, 10], html: esc(v.badge) }) })
      .bindTooltip(`${esc(v.badge)}. ${esc(v.camera)} ${esc(v.label)}`).addTo(map);
    (named[k] = named[k] || { v, labels: [] }).labels.push(v.label);
  });
  for (const k in named) {
    const { v, labels } = named[k];
    L.tooltip(label("right", [right[k] + 2, 0])).setLatLng([v.lat, v.lon])
      .setContent(`<b>${esc(v.camera)}</b><br>${esc(labels.join(" · "))}`).addTo(map);
  }
  const legend = L.control({ position: "topright" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "fs-legend");
    div.innerHTML = data.legend.map((d) => `<i style="background:${esc(d.colour)}"></i>${esc(d.name)}`).join("<br>");
    return div;
  };
  legend.addTo(map);
  map.fitBounds(data.bounds, { maxZoom: 18 });
  map.on("zoomend", drawBadges);
  drawBadges();
})();
