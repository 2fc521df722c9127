/* BX24.js of the Bitrix24 portal emulator: the part of the frame library (sdk/bx24-js-sdk/**) that
 * b24claude's pages use. Like the real library, it lives inside the application's frame and asks
 * the portal page around the frame (window.parent) for everything over postMessage; it makes no
 * request of its own. Implemented: init/ready, isReady, getAuth, getLang, getDomain, isAdmin,
 * placement.info, installFinish, fitWindow, resizeWindow, setTitle. */
(function () {
  "use strict";
  var PORTAL = "__PORTAL_ORIGIN__";
  var seq = 0;
  var waiting = {};
  var initData = null;
  var readyQueue = [];

  function send(cmd, params, callback) {
    var id = ++seq;
    if (callback) waiting[id] = callback;
    window.parent.postMessage({ bx24: true, id: id, cmd: cmd, params: params || {} }, PORTAL);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== PORTAL || !event.data || event.data.bx24 !== true) return;
    var callback = waiting[event.data.id];
    delete waiting[event.data.id];
    if (callback) callback(event.data.result);
  });

  function contentHeight() {
    var body = document.body, html = document.documentElement;
    return Math.max(body.scrollHeight, body.offsetHeight, html.scrollHeight, html.offsetHeight);
  }

  var BX24 = {
    init: function (callback) {
      if (initData) { if (callback) callback(); return; }
      if (callback) readyQueue.push(callback);
      if (readyQueue.length > 1) return;
      send("getInitData", {}, function (data) {
        initData = data || {};
        var queue = readyQueue; readyQueue = [];
        queue.forEach(function (cb) { cb(); });
      });
    },
    isReady: function () { return initData !== null; },
    getAuth: function () {
      if (!initData) return false;
      return {
        access_token: initData.AUTH_ID,
        refresh_token: initData.REFRESH_ID,
        expires_in: initData.AUTH_EXPIRES,
        domain: initData.DOMAIN,
        member_id: initData.MEMBER_ID
      };
    },
    getLang: function () { return initData ? initData.LANG : undefined; },
    getDomain: function () { return initData ? initData.DOMAIN : undefined; },
    isAdmin: function () { return !!(initData && initData.IS_ADMIN); },
    placement: {
      info: function () {
        return initData ? { placement: initData.PLACEMENT, options: initData.PLACEMENT_OPTIONS || {} } : {};
      }
    },
    installFinish: function () { send("setInstallFinish", {}); },
    resizeWindow: function (width, height, callback) {
      send("resizeWindow", { width: width, height: height }, callback);
    },
    fitWindow: function (callback) { send("resizeWindow", { width: "100%", height: contentHeight() }, callback); },
    setTitle: function (title, callback) { send("setTitle", { title: String(title) }, callback); }
  };
  BX24.ready = BX24.init;
  window.BX24 = BX24;
})();
