"""The examples the page offers to start from (GET /api/examples).

Each one is a complete page state: the expression and its settings, a claim with a typical mistake to
check, and a derivation written as on paper with one line wrong — so every panel of the page has
something to show. Nothing here is an answer: the page asks the engine for every result.
"""

from __future__ import annotations

EXAMPLES = [
    {
        "id": "softmax-ce",
        "title": "Softmax cross-entropy",
        "expression": "-y'*log(softmax(W*x + b))",
        "wrt": "W",
        "shapes": "",
        "assume": "sum(y) = 1",
        "layout": "denominator",
        "claim": "x*(softmax(W*x + b) - y)'",
        "derivation": "# the gradient with respect to the logits z, one line broken on purpose (a sign)\n"
                      "f: -y'*log(softmax(z))\nwrt: z\nassume: sum(y) = 1\nlet s = softmax(z)\n\n"
                      "-(diag(s) - s*s')*(y ./ s)\n= -(y - s*sum(y))\n= s*sum(y) + y\n= s - y\n",
    },
    {
        "id": "least-squares",
        "title": "Least squares",
        "expression": "(X*w - y)'*(X*w - y)",
        "wrt": "w",
        "shapes": "X=m,n",
        "assume": "",
        "layout": "denominator",
        "claim": "X'*(X*w - y)",
        "derivation": "# the normal equations' gradient, with the factor 2 dropped on the way\n"
                      "f: (X*w - y)'*(X*w - y)\nwrt: w\nshape: X=m,n\n\n"
                      "2*X'*(X*w - y)\n= 2*X'*X*w - 2*X'*y\n= X'*X*w - X'*y\n",
    },
    {
        "id": "logistic-regression",
        "title": "Logistic regression",
        "expression": "-y'*log(sigmoid(X*w)) - (1 - y)'*log(1 - sigmoid(X*w))",
        "wrt": "w",
        "shapes": "X=m,n",
        "assume": "",
        "layout": "denominator",
        "claim": "X'*(y - sigmoid(X*w))",
        "derivation": "# the logistic loss's gradient, simplified step by step; the last line flips a sign\n"
                      "f: -y'*log(sigmoid(X*w)) - (1 - y)'*log(1 - sigmoid(X*w))\nwrt: w\nshape: X=m,n\n"
                      "let p = sigmoid(X*w)\n\n"
                      "X'*(p .* (1 - p) .* (-y ./ p + (1 - y) ./ (1 - p)))\n"
                      "= X'*(-y .* (1 - p) + (1 - y) .* p)\n= X'*(-y + p .* y + p - p .* y)\n= X'*(y - p)\n",
    },
    {
        "id": "batched-mlp",
        "title": "Batched MLP (one hidden layer)",
        "expression": "-sum(Y .* log(softmax_rows(relu(X*W1 + b1')*W2 + b2')))/m",
        "wrt": "W2",
        "shapes": "X=m,d",
        "assume": "Y one-hot",
        "layout": "denominator",
        "claim": "relu(X*W1 + b1')'*(softmax_rows(relu(X*W1 + b1')*W2 + b2') - Y)",
        "derivation": "# the last layer's weight gradient of a batched softmax cross-entropy; one line has a transpose slip\n"
                      "shape: X=m,d\nassume: Y one-hot\nlet A = relu(X*W1 + b1')\n"
                      "let P = softmax_rows(A*W2 + b2')\n"
                      "f: -sum(Y .* log(softmax_rows(relu(X*W1 + b1')*W2 + b2')))/m\nwrt: W2\n\n"
                      "A'*((P - Y)/m)\n= (1/m)*(A'*P - A'*Y)\n= (1/m)*(A'*P - Y'*A)\n= (1/m)*A'*(P - Y)\n",
    },
]
