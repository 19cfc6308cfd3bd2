vcl 4.1;
# Varnish with the WebSocket recipe of its documentation
# (https://varnish-cache.org/docs/7.1/users-guide/vcl-example-websockets.html): requests with
# Upgrade are piped, i.e. Varnish forwards them and then relays bytes both ways until a side
# closes, whatever the backend answered. @BACK@ is filled in by make_proxy_captures.py.
backend default {
    .host = "127.0.0.1";
    .port = "@BACK@";
}
sub vcl_recv {
    if (req.http.upgrade ~ "(?i)websocket") {
        return (pipe);
    }
}
sub vcl_pipe {
    if (req.http.upgrade) {
        set bereq.http.upgrade = req.http.upgrade;
        set bereq.http.connection = req.http.connection;
    }
}
