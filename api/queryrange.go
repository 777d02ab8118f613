package api

// maxQuerySeq is the largest sequence number a query may name (after=):
// seqs are int64-sized, and after+1 must never wrap round to 0, which read
// after=18446744073709551615 as "from the start".
const maxQuerySeq = 1<<63 - 1
