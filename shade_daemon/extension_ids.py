"""Identities of the Shade browser extension, shared by the daemon (allowed origins),
the native-messaging host and the installers.

The Chrome ID is pinned by the public key in ``extension/manifest.json`` ("key"):
Chrome derives the ID from that key, so an unpacked load gets this same ID.
Firefox's moz-extension:// origin is random per install; its add-on ID is fixed.
"""

CHROME_EXTENSION_ID = "ndhjkbjioinnbhljkeapabjellkmioom"
CHROME_ORIGIN = f"chrome-extension://{CHROME_EXTENSION_ID}"
FIREFOX_ADDON_ID = "shade@shade-art.org"
NATIVE_HOST_NAME = "org.shade_art.host"
# The manifest "key" (base64 DER public key) that pins CHROME_EXTENSION_ID.
CHROME_MANIFEST_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmLupAOLovMQlDmD5MbuLYfTeSYsXn7Z03S6lc7kmFyqmCJm9xiu1OkO3rJqV7ncMBq6rdCwIukgFRrOy+jc1OaHKkkXbqZ3APMxIyIEt8os+KaCmDVdVQDJy7c976eUmYqW/0+QNoIfmgtI8YsZ/EebB599ZsFlX3VUNYaL28iAEKlz7K2r8FuGQxpoHDS4l7MHTNXU6YnoISCgdrrtkaUtjDsNyjZlqN+85OWWv/DoVMWgDtJjbtATIVt6a89t8xviNscjcbVZA5VH2/gnJsMA4gVnb0dW0KdIy98uscAR5SzS1o04XCYlnxAVCRRdtmIpUa5VSLfV1kP08yrIbKQIDAQAB"
