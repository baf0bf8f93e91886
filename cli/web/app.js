/* placeholder until the pages branch lands (cli/web/app.js is H4's) */
"use strict";
