// The signup form's hidden time_zone field: the browser's own IANA zone, so that issues
// sent "at local time" reach the reader at that hour. Without script the field stays
// empty and the newsletter's default zone applies.
(function () {
  "use strict";
  var field = document.getElementById("time_zone");
  if (!field || field.value) { return; }
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (typeof zone === "string" && zone.length <= 64) { field.value = zone; }
  } catch (e) { /* an old browser: the default zone */ }
}());
