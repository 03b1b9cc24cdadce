"""GStreamer's own RTSP server (gst-rtsp-server) serving a live H.264 test pattern at
rtsp://127.0.0.1:PORT/cam: an outside RTSP camera for the capture tests.

Usage: /usr/bin/python3 rtsp_server.py PORT (Debian's python3-gi and
gir1.2-gst-rtsp-server-1.0, which `cargo xtask setup` installs).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,width=320,height=180,framerate=25/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25"
    " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{sys.argv[1]}")
GLib.MainLoop().run()
