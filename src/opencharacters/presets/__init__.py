"""The nine preset characters Runway's SDKs name (`avatar: {"type": "runway-preset", ...}`).

`catalog` holds who they are, `portraits` draws their pictures (the committed PNGs under
`images/` are its output), `install` makes them READY avatars the server can call."""
