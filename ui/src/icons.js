// Service icons drawn beside a node's colour: small inline SVGs as data URIs (the export's CSP allows data: images
// and nothing fetched), so a user tells Glue, EMR/Spark, Redshift, S3 and RDS apart without reading the namespace.

const svg = (body) => `data:image/svg+xml;utf8,${encodeURIComponent(
  `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">${body}</svg>`)}`;

export const ICONS = {
  // S3: a bucket
  s3: svg('<path d="M2 4h12l-1.6 10H3.6z" fill="#4c9a4c"/><ellipse cx="8" cy="4" rx="6" ry="2" fill="#7cc47c"/>'),
  // Redshift: a stack of slices
  redshift: svg('<rect x="2" y="2" width="12" height="3" rx="1" fill="#5560c9"/>' +
    '<rect x="2" y="6.5" width="12" height="3" rx="1" fill="#7882e0"/><rect x="2" y="11" width="12" height="3" rx="1" fill="#5560c9"/>'),
  // RDS (MySQL/PostgreSQL): a database cylinder
  rds: svg('<path d="M2 3.5v9c0 1.4 2.7 2.5 6 2.5s6-1.1 6-2.5v-9z" fill="#cc6a4e"/>' +
    '<ellipse cx="8" cy="3.5" rx="6" ry="2.3" fill="#eaa08a"/>'),
  // Glue Data Catalog table: a grid
  glue: svg('<rect x="1.5" y="2" width="13" height="12" rx="1.5" fill="#8c4fff"/>' +
    '<path d="M1.5 6h13M1.5 10h13M6 6v8M10.5 6v8" stroke="#fff" stroke-width="1.2"/>'),
  // Spark (Glue/EMR jobs): a spark
  spark: svg('<path d="M8 1l1.8 4.6L14.5 6l-3.7 3 1.2 5L8 11.4 4 14l1.2-5L1.5 6l4.7-.4z" fill="#e25a1c"/>'),
  // anything else: a dot
  other: svg('<circle cx="8" cy="8" r="4.5" fill="#7d8da6"/>'),
};
