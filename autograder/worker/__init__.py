"""The worker: where student code runs, and nothing else of the grader.

* ``zygote``: a fresh interpreter that imports TensorFlow once and forks one worker per submission;
* ``sandbox``: what each forked worker enters before it reads a line of student code (namespaces, mounts,
  capabilities, cgroups, Landlock; ``sandbox/`` holds one module per mechanism);
* ``child``: the worker's side: run the cells, answer the grader's questions with arrays;
* ``client``: the grader's side: start a worker, ask it questions, kill it, read what it printed;
* ``wire``: the line framing between the two (JSON, arrays as .npy bytes, never pickle);
* ``execute``: running a notebook's code cells in a namespace (the worker, and the reference build).
"""
