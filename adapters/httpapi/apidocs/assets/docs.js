// Starts Swagger UI on /docs for the document at /openapi.json. It is a file,
// not an inline script, so the page's Content-Security-Policy can forbid
// inline scripts.
//
// "Try it out" sends real requests to this origin with credentials, so the
// browser keeps and sends the HttpOnly refresh cookie that sign-up and log-in
// set. The access token of a sign-up, log-in or refresh response is put into
// the page's bearer authorization, and logging out or deleting the account
// removes it, so the bearer routes can be tried right after signing in.
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
