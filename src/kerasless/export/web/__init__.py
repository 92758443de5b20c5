"""Web target (target.py): a self-contained index.html over the js target's module, with its page script (page.js)."""
