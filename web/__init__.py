"""The browser side of Yatri: the traveller's chat-and-voice widget and the content team's
console, plain files in `static/` served by `api/routes/web.py` (no build step)."""
