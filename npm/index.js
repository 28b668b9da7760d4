// sqlite-docpipe: where the loadable extension is, for any SQLite client.
//   const Database = require('better-sqlite3');
//   const docpipe = require('sqlite-docpipe');
//   const db = new Database(':memory:');
//   db.loadExtension(docpipe.getLoadablePath());   // or docpipe.load(db)
const fs = require('fs');
const path = require('path');

function getLoadablePath() {
  const p = path.join(__dirname, 'docpipe.so');
  if (!fs.existsSync(p)) {
    throw new Error(`sqlite-docpipe: ${p} is missing (this package is built for linux-x64)`);
  }
  return p;
}

function load(db) {
  db.loadExtension(getLoadablePath());
}

module.exports = { getLoadablePath, load };
