"""`matcalc serve`: a local web page over a small JSON API (the optional extra matcalc[web]).

app.py      the Starlette application: routes, body-size limit, static files (KaTeX vendored)
pool.py     worker processes with a time limit (a runaway expression is killed, not waited for)
worker.py   one worker: JSON lines in, JSON lines out, memory capped
handlers.py request fields checked, library called, errors as the CLI's one-line messages
render.py   results as JSON with LaTeX for the page
examples.py the examples the page starts from
zygote.py   a warm parent process that forks the workers
(the `matcalc serve` command itself is cli/serve.py)
"""
