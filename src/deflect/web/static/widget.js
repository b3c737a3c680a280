/* deflect help widget loader: the one script a site embeds.
 *
 *   <script src="https://deflect.example/widget.js" data-widget-id="wid_..." async></script>
 *
 * Optional: data-title, data-color, data-position (right|left), data-greeting, data-examples ("a|b|c"),
 * data-locale. API: window.Deflect.open(), .close(), .identify(token), .reset(). Calls made before the widget has
 * loaded are queued. The widget id is public: deflect checks the page's origin against the id's allowed list.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || (window.Deflect && window.Deflect.__deflect)) return;
  var queue = [];
  var api = { __deflect: true };
  ["open", "close", "identify", "reset"].forEach(function (name) {
    api[name] = function () {
      queue.push([name, Array.prototype.slice.call(arguments)]);
    };
  });
  window.Deflect = api;
  var base = new URL(".", script.src).href;
  var options = {};
  for (var key in script.dataset) options[key] = script.dataset[key];
  import(new URL("static/deflect/widget-app.js", base).href).then(
    function (module) {
      module.mount(api, options, base, queue);
    },
    function (error) {
      if (window.console) console.error("deflect widget failed to load", error);
    }
  );
})();
