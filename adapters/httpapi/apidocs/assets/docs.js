// Starts Swagger UI on /docs for the document at /openapi.json. It is a file,
// not an inline script, so the page's Content-Security-Policy can forbid
// inline scripts.
//
// "Try it out" sends real requests to this origin with credentials, so the
// browser keeps and sends the HttpOnly refresh cookie that sign-up and log-in
// set. The access token of a sign-up, log-in or refresh response is put into
// the page's bearer authorization, and logging out or deleting the account
// removes it, so the bearer routes can be tried right after signing in.
//
// Tags show in the order of the document's top-level tags; within a tag the
// operations show in the order its "x-operations" list gives (the order a
// new user meets them), not in path order.
(function () {
  "use strict";

  var tokenRoute = /\/api\/v1\/users\/(signup|login|refresh)$/;
  var sessionEndRoute = /\/api\/v1\/users(\/|\/logout)?$/;

  function path(url) {
    try {
      return new URL(url, window.location.href).pathname;
    } catch (e) {
      return "";
    }
  }

  // rank maps an operationId to its place in its tag's x-operations list;
  // it is built on first use, once the document has loaded.
  var rank = null;

  function place(op) {
    if (rank === null) {
      rank = {};
      var tags = ui.specSelectors.specJson().get("tags");
      if (tags) {
        tags.forEach(function (tag) {
          var ids = tag.get("x-operations");
          if (ids) {
            ids.forEach(function (id, i) { rank[id] = i; });
          }
        });
      }
    }
    var id = op.getIn(["operation", "operationId"]);
    // An operation missing from the lists keeps its document order after
    // the listed ones: the sort is stable.
    return Object.prototype.hasOwnProperty.call(rank, id) ? rank[id] : Number.MAX_SAFE_INTEGER;
  }

  var ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    tryItOutEnabled: true,
    withCredentials: true,
    displayRequestDuration: true,
    persistAuthorization: false,
    validatorUrl: null,
    operationsSorter: function (a, b) {
      return place(a) - place(b);
    },
    responseInterceptor: function (res) {
      var p = path(res.url);
      var body = res.body || res.obj;
      if (res.ok && tokenRoute.test(p) && body && typeof body.access_token === "string") {
        ui.preauthorizeApiKey("bearerAuth", body.access_token);
      } else if (res.status === 204 && sessionEndRoute.test(p)) {
        ui.authActions.logout(["bearerAuth"]);
      }
      return res;
    }
  });
  window.ui = ui;
})();
