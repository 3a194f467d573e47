"""The latent space of a trained generator: spaces z / w / w_plus and latents.pt files (`spaces`), image
distances for projection (`distances`), projecting real images (`projection`: the Projector; `projection_files`: a
folder projected and written), and morphing between two sets (`morphing`: pairs and intermediates; `morph_files`:
the morph workflow and its folder). Generators are used through the model contract (gan_zoo.contract) only. May
import the core, `networks`, `data` (reading image folders) and `metrics` (features and set distances); never
`api`, `runs` or `commands`."""
