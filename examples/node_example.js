// docpipe from Node.js with better-sqlite3 (npm):
//   node examples/node_example.js dist/docpipe
const Database = require('better-sqlite3');

const ext = process.argv[2] || 'dist/docpipe';
const db = new Database(':memory:');
db.loadExtension(ext);

db.exec('CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7)');
const docs = [
  'In the beginning God created the heaven and the earth. And the earth was without form, and void.',
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.',
  'In the beginning God created the heaven and the earth. And the earth was without form, and empty.',
  'It was the best of times, it was the worst of times, it was the age of wisdom.',
];
const insert = db.prepare('INSERT INTO docs(body) VALUES (?)');
db.transaction((rows) => { for (const d of rows) insert.run(d); })(docs);

for (const r of db.prepare('SELECT rowid, duplicate_of, similarity FROM docs WHERE is_duplicate').all()) {
  console.log(`${r.rowid} duplicate of ${r.duplicate_of} (similarity ${r.similarity.toFixed(3)})`);
}
const q = 'Call me Ishmael. Some years ago, never mind how long';
for (const r of db.prepare('SELECT rowid, score FROM docs WHERE docs MATCH ? AND k = 2').all(q)) {
  console.log(`nearest ${r.rowid} ${r.score.toFixed(3)}`);
}
