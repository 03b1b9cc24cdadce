//! Surface meshes from carved hulls (naive surface nets: one vertex per boundary cell,
//! one quad per boundary edge, so the mesh is closed and two-manifold per component) and
//! their export as binary PLY and binary glTF (GLB).

use glam::{DVec3, Vec3};

use crate::hull::Hull;

/// A triangle mesh in world coordinates (metres).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions.
    pub positions: Vec<Vec3>,
    /// Triangles, counter-clockwise seen from outside.
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// The surface of a hull. Vertices sit at the centre of each 2×2×2 block of voxels that
    /// straddles the boundary, pulled to the mean of the block's boundary-crossing edges.
    pub fn from_hull(hull: &Hull) -> Mesh {
        let n = i64::from(hull.resolution);
        let voxel = hull.voxel_size();
        // Voxel centres sit at lattice points; dual cells span (i..i+1) between them.
        // A dual cell (i, j, k) has corners at voxels (i + dx, j + dy, k + dz), dx, dy, dz in {0, 1};
        // cells run from -1 to n - 1 so the grid's outside counts as empty.
        let size = (n + 1) as usize;
        let in_layer = |i: i64, j: i64| ((i + 1) as usize) + size * ((j + 1) as usize);
        let mut mesh = Mesh::default();
        let origin = hull.bounds.min + voxel * 0.5;
        // The occupancy with a border of empty voxels, so that neighbours need no bounds test,
        // and the box of the occupied voxels: only cells and edges within a voxel of it matter.
        let padded = n as usize + 2;
        let mut grid = vec![false; padded * padded * padded];
        let mut occupied_box: Option<[[i64; 3]; 2]> = None;
        let side = n as usize;
        for (index, _) in hull.occupied.iter().enumerate().filter(|(_, v)| **v) {
            let voxel = [index % side, (index / side) % side, index / (side * side)];
            grid[(voxel[0] + 1) + padded * ((voxel[1] + 1) + padded * (voxel[2] + 1))] = true;
            let voxel = voxel.map(|v| v as i64);
            let [lo, hi] = occupied_box.get_or_insert([voxel, voxel]);
            for axis in 0..3 {
                lo[axis] = lo[axis].min(voxel[axis]);
                hi[axis] = hi[axis].max(voxel[axis]);
            }
        }
        let Some([lo, hi]) = occupied_box else {
            return mesh;
        };
        let cells = |axis: usize| lo[axis] - 1..=hi[axis];
        let at = |i: i64, j: i64, k: i64| {
            grid[(i + 1) as usize + padded * ((j + 1) as usize + padded * (k + 1) as usize)]
        };
        // Whether voxel row (j, k) is empty: the rows of the box's cross-section that miss
        // the athlete are skipped whole.
        let empty = |j: i64, k: i64| {
            let start = padded * ((j + 1) as usize + padded * (k + 1) as usize);
            !grid[start..start + padded].contains(&true)
        };
        // The vertex of each cell of layer k, and of layer k - 1: all that the quads of the
        // voxel edges of layer k join.
        let mut vertex_of = vec![u32::MAX; size * size];
        let mut below = vec![u32::MAX; size * size];
        for k in cells(2) {
            std::mem::swap(&mut vertex_of, &mut below);
            vertex_of.fill(u32::MAX);
            for j in cells(1) {
                if empty(j, k) && empty(j + 1, k) && empty(j, k + 1) && empty(j + 1, k + 1) {
                    continue;
                }
                for i in cells(0) {
                    let mut inside = 0;
                    let mut corners = [false; 8];
                    for (c, corner) in corners.iter_mut().enumerate() {
                        *corner = at(
                            i + (c & 1) as i64,
                            j + ((c >> 1) & 1) as i64,
                            k + ((c >> 2) & 1) as i64,
                        );
                        inside += usize::from(*corner);
                    }
                    if inside == 0 || inside == 8 {
                        continue;
                    }
                    // Mean of the midpoints of edges whose ends differ.
                    let mut sum = DVec3::ZERO;
                    let mut count = 0.0;
                    for (a, b) in CUBE_EDGES {
                        if corners[a] != corners[b] {
                            sum += (corner_offset(a) + corner_offset(b)) * 0.5;
                            count += 1.0;
                        }
                    }
                    let local = DVec3::new(i as f64, j as f64, k as f64) + sum / count;
                    let world = origin + local * voxel;
                    vertex_of[in_layer(i, j)] = mesh.positions.len() as u32;
                    mesh.positions.push(world.as_vec3());
                }
            }
            // For each voxel edge of this layer along +x, +y, +z whose ends differ, a quad
            // joins the four dual cells around it, wound so its normal points from inside to
            // outside.
            for j in cells(1) {
                if empty(j, k) && empty(j + 1, k) && empty(j, k + 1) {
                    continue;
                }
                for i in cells(0) {
                    let here = at(i, j, k);
                    for axis in 0..3 {
                        let (di, dj, dk) = [(1, 0, 0), (0, 1, 0), (0, 0, 1)][axis];
                        let there = at(i + di, j + dj, k + dk);
                        if here == there {
                            continue;
                        }
                        // The four cells sharing this edge differ in the two other axes.
                        let (u, v) = [
                            ((0, 1, 0), (0, 0, 1)),
                            ((0, 0, 1), (1, 0, 0)),
                            ((1, 0, 0), (0, 1, 0)),
                        ][axis];
                        let cell = |a: i64, b: i64| {
                            let (ci, cj) = (i - u.0 * a - v.0 * b, j - u.1 * a - v.1 * b);
                            let layer = if u.2 * a + v.2 * b == 0 {
                                &vertex_of
                            } else {
                                &below
                            };
                            layer[in_layer(ci, cj)]
                        };
                        let quad = [cell(0, 0), cell(1, 0), cell(1, 1), cell(0, 1)];
                        if quad.contains(&u32::MAX) {
                            continue;
                        }
                        let [a, b, c, d] = if here {
                            quad
                        } else {
                            [quad[0], quad[3], quad[2], quad[1]]
                        };
                        mesh.triangles.push([a, b, c]);
                        mesh.triangles.push([a, c, d]);
                    }
                }
            }
        }
        mesh
    }

    /// The enclosed volume (divergence theorem); positive when triangles face outwards.
    pub fn volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.positions[i as usize].as_dvec3());
                a.dot(b.cross(c)) / 6.0
            })
            .sum()
    }

    /// Binary little-endian PLY.
    pub fn to_ply(&self) -> Vec<u8> {
        let header = format!(
            "ply\nformat binary_little_endian 1.0\ncomment piste visual hull, metres\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nelement face {}\nproperty list uchar uint vertex_indices\nend_header\n",
            self.positions.len(),
            self.triangles.len()
        );
        let mut out = header.into_bytes();
        out.reserve(self.positions.len() * 12 + self.triangles.len() * 13);
        for p in &self.positions {
            for v in p.to_array() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for t in &self.triangles {
            out.push(3);
            for i in t {
                out.extend_from_slice(&i.to_le_bytes());
            }
        }
        out
    }

    /// Binary glTF 2.0 (GLB): one mesh, positions and 32-bit indices in one buffer.
    pub fn to_glb(&self) -> Vec<u8> {
        let mut bin = Vec::with_capacity(self.positions.len() * 12 + self.triangles.len() * 12);
        for p in &self.positions {
            for v in p.to_array() {
                bin.extend_from_slice(&v.to_le_bytes());
            }
        }
        let positions_len = bin.len();
        for t in &self.triangles {
            for i in t {
                bin.extend_from_slice(&i.to_le_bytes());
            }
        }
        let indices_len = bin.len() - positions_len;
        let (min, max) = self.positions.iter().fold(
            (Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY)),
            |(lo, hi), p| (lo.min(*p), hi.max(*p)),
        );
        let (min, max) = if self.positions.is_empty() {
            (Vec3::ZERO, Vec3::ZERO)
        } else {
            (min, max)
        };
        let json = format!(
            concat!(
                r#"{{"asset":{{"version":"2.0","generator":"piste"}},"scene":0,"scenes":[{{"nodes":[0]}}],"#,
                r#""nodes":[{{"mesh":0,"name":"hull"}}],"meshes":[{{"primitives":[{{"attributes":{{"POSITION":0}},"indices":1,"mode":4}}]}}],"#,
                r#""buffers":[{{"byteLength":{}}}],"#,
                r#""bufferViews":[{{"buffer":0,"byteOffset":0,"byteLength":{},"target":34962}},{{"buffer":0,"byteOffset":{},"byteLength":{},"target":34963}}],"#,
                r#""accessors":[{{"bufferView":0,"componentType":5126,"count":{},"type":"VEC3","min":[{},{},{}],"max":[{},{},{}]}},"#,
                r#"{{"bufferView":1,"componentType":5125,"count":{},"type":"SCALAR"}}]}}"#
            ),
            bin.len(),
            positions_len,
            positions_len,
            indices_len,
            self.positions.len(),
            min.x,
            min.y,
            min.z,
            max.x,
            max.y,
            max.z,
            self.triangles.len() * 3,
        );
        let mut json = json.into_bytes();
        while json.len() % 4 != 0 {
            json.push(b' ');
        }
        while bin.len() % 4 != 0 {
            bin.push(0);
        }
        let total = 12 + 8 + json.len() + 8 + bin.len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"glTF");
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(b"JSON");
        out.extend_from_slice(&json);
        out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&bin);
        out
    }
}

/// The twelve edges of a cube by corner index (corner bits: x = 1, y = 2, z = 4).
const CUBE_EDGES: [(usize, usize); 12] = [
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (0, 2),
    (1, 3),
    (4, 6),
    (5, 7),
    (0, 4),
    (1, 5),
    (2, 6),
    (3, 7),
];

fn corner_offset(c: usize) -> DVec3 {
    DVec3::new((c & 1) as f64, ((c >> 1) & 1) as f64, ((c >> 2) & 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hull::Bounds;
    use std::collections::HashMap;

    fn ball(resolution: u32, radius: f64) -> Hull {
        let bounds = Bounds {
            min: DVec3::splat(-1.0),
            max: DVec3::splat(1.0),
        };
        let n = resolution as usize;
        let voxel = 2.0 / resolution as f64;
        let mut occupied = vec![false; n * n * n];
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let p = DVec3::new(x as f64, y as f64, z as f64) * voxel
                        - DVec3::splat(1.0 - voxel / 2.0);
                    occupied[x + n * (y + n * z)] = p.length() <= radius;
                }
            }
        }
        Hull {
            bounds,
            resolution,
            occupied,
        }
    }

    #[test]
    fn a_ball_becomes_a_closed_outward_mesh_of_the_right_volume() {
        let mesh = Mesh::from_hull(&ball(64, 0.7));
        let mut edges: HashMap<(u32, u32), i32> = HashMap::new();
        for t in &mesh.triangles {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                *edges.entry((a.min(b), a.max(b))).or_default() += if a < b { 1 } else { -1 };
            }
        }
        // Closed and consistently wound: every edge is used once in each direction.
        assert!(
            edges.values().all(|v| *v == 0),
            "open or inconsistent edges"
        );
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 0.7f64.powi(3);
        let volume = mesh.volume();
        assert!((volume - exact).abs() / exact < 0.03, "{volume} vs {exact}");
    }

    #[test]
    fn ply_and_glb_carry_the_mesh() {
        let mesh = Mesh::from_hull(&ball(16, 0.6));
        let ply = mesh.to_ply();
        let header_end = ply.windows(11).position(|w| w == b"end_header\n").unwrap() + 11;
        let header = std::str::from_utf8(&ply[..header_end]).unwrap();
        assert!(header.contains(&format!("element vertex {}", mesh.positions.len())));
        assert_eq!(
            ply.len() - header_end,
            mesh.positions.len() * 12 + mesh.triangles.len() * 13
        );

        let glb = mesh.to_glb();
        assert_eq!(&glb[0..4], b"glTF");
        assert_eq!(
            u32::from_le_bytes(glb[8..12].try_into().unwrap()) as usize,
            glb.len()
        );
        let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
        let json = std::str::from_utf8(&glb[20..20 + json_len]).unwrap();
        assert!(
            json.contains(&format!("\"count\":{}", mesh.triangles.len() * 3)),
            "{json}"
        );
        assert_eq!(json_len % 4, 0);
        assert_eq!(&glb[20 + json_len + 4..20 + json_len + 8], b"BIN\0");
    }
}
