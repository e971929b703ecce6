"""Collections through the official client: create, get, rename, items of
every kind with notes, ordering, listing, privacy and deletion."""

import pytest
from huggingface_hub import Collection
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import get_session

from helpers import unique


@pytest.fixture
def collection(api):
    c = api.create_collection(unique("Cool stuff"), description="Contains a lot of cool stuff")
    yield c
    api.delete_collection(c.slug, missing_ok=True)


def test_create_collection_with_description(api, endpoint, user, collection):
    assert isinstance(collection, Collection)
    assert collection.title.startswith("Cool stuff")
    assert collection.description == "Contains a lot of cool stuff"
    assert collection.items == []
    assert collection.slug.startswith(f"{user}/cool-stuff-")
    assert collection.url == f"{endpoint}/collections/{collection.slug}"
    assert collection.owner["name"] == user
    assert collection.owner["fullname"] == api.whoami()["fullname"] == "Alice Liddell"
    assert collection.owner["type"] == "user" and collection.owner["isPro"] is False
    assert collection.private is False
    assert collection.theme == "orange"

    got = api.get_collection(collection.slug)
    assert got.slug == collection.slug
    assert got.description == collection.description
    assert got.position == collection.position


def test_update_collection_keeps_old_slug(api, collection):
    old = collection.slug
    suffix = old.rsplit("-", 1)[1]
    updated = api.update_collection_metadata(
        old, title="New title", description="Still cool", theme="green", private=True, position=0
    )
    assert updated.title == "New title"
    assert updated.slug.endswith("/new-title-" + suffix)
    assert (updated.description, updated.theme, updated.private, updated.position) == ("Still cool", "green", True, 0)
    # The old slug still names the collection, answered with its new slug.
    assert api.get_collection(old).slug == updated.slug

    with pytest.raises(HfHubHTTPError) as e:
        api.update_collection_metadata(updated.slug, theme="magenta")
    assert e.value.response.status_code == 400


def test_collection_items(api, user, collection, repo_name):
    model = f"{user}/{repo_name}-model"
    dataset = f"{user}/{repo_name}-data"
    space = f"{user}/{repo_name}-space"
    api.create_repo(model)
    api.create_repo(dataset, repo_type="dataset")
    api.create_repo(space, repo_type="space", space_sdk="static")
    inner = api.create_collection(unique("Inner"))
    try:
        slug = collection.slug
        api.add_collection_item(slug, model, "model", note="A *model* <script>alert(1)</script>")
        api.add_collection_item(slug, dataset, "dataset")
        api.add_collection_item(slug, space, "space", note="the app")
        api.add_collection_item(slug, "2307.09288", "paper", note="Llama 2")
        c = api.add_collection_item(slug, inner.slug, "collection", note="more")
        assert [(i.item_type, i.item_id, i.position) for i in c.items] == [
            ("model", model, 0),
            ("dataset", dataset, 1),
            ("space", space, 2),
            ("paper", "2307.09288", 3),
            ("collection", inner.slug, 4),
        ]
        assert c.items[0].note == "A *model* <script>alert(1)</script>"
        assert c.items[1].note is None

        # The raw answer: notes as {html, text}, inert; nested collections by id and slug.
        raw = get_session().get(f"{api.endpoint}/api/collections/{slug}", headers=api._build_hf_headers()).json()
        note = raw["items"][0]["note"]
        assert note["text"] == "A *model* <script>alert(1)</script>"
        assert "<em>model</em>" in note["html"] and "<script" not in note["html"]
        assert raw["items"][3]["note"] == {"html": "Llama 2", "text": "Llama 2"}
        assert raw["items"][4]["id"] == inner.slug.rsplit("-", 1)[1]
        assert raw["items"][4]["slug"] == inner.slug

        # Twice is a conflict, unless the caller says it is fine.
        with pytest.raises(HfHubHTTPError) as e:
            api.add_collection_item(slug, model, "model")
        assert e.value.response.status_code == 409
        api.add_collection_item(slug, model, "model", exists_ok=True)
        # A model id given as a dataset does not exist.
        with pytest.raises(HfHubHTTPError) as e:
            api.add_collection_item(slug, model, "dataset")
        assert e.value.response.status_code == 404

        # Move the model after the dataset, change its note.
        first = c.items[0].item_object_id
        api.update_collection_item(slug, first, note="Now a plain note", position=1)
        c = api.get_collection(slug)
        assert [i.item_type for i in c.items] == ["dataset", "model", "space", "paper", "collection"]
        assert c.items[1].note == "Now a plain note"

        # Delete the model: the others close up.
        api.delete_collection_item(slug, first)
        c = api.get_collection(slug)
        assert [(i.item_type, i.position) for i in c.items] == [
            ("dataset", 0), ("space", 1), ("paper", 2), ("collection", 3)
        ]
        with pytest.raises(HfHubHTTPError) as e:
            api.delete_collection_item(slug, first)
        assert e.value.response.status_code == 404
        api.delete_collection_item(slug, first, missing_ok=True)
    finally:
        api.delete_collection(inner.slug, missing_ok=True)


def test_collection_holds_itself(api, anon_api, collection):
    # The Hub lets a collection list itself (the JS client's own tests do);
    # items are not expanded, so nothing recurses.
    slug = collection.slug
    c = api.add_collection_item(slug, slug, "collection", note="see also")
    assert [(i.item_type, i.item_id, i.note) for i in c.items] == [("collection", slug, "see also")]
    assert anon_api.get_collection(slug).items[0].item_id == slug
    api.delete_collection_item(slug, c.items[0].item_object_id)
    assert api.get_collection(slug).items == []
    c = api.add_collection_item(slug, slug, "collection")
    api.delete_collection(slug)
    with pytest.raises(HfHubHTTPError) as e:
        api.get_collection(slug)
    assert e.value.response.status_code == 404


def test_list_collections(api, anon_api, user, collection, new_repo):
    api.add_collection_item(collection.slug, new_repo, "model")
    second = api.create_collection(unique("Second"))
    try:
        mine = list(api.list_collections(owner=user, limit=100))
        slugs = [c.slug for c in mine]
        assert collection.slug in slugs and second.slug in slugs
        # The client numbers listed collections itself.
        assert [c.position for c in mine] == list(range(len(mine)))

        having = list(anon_api.list_collections(item=f"models/{new_repo}"))
        assert [c.slug for c in having] == [collection.slug]
        assert having[0].items[0].item_id == new_repo
        assert list(anon_api.list_collections(item="models/nobody/nothing")) == []

        # Items of listed collections are cut at four.
        for i in range(5):
            api.add_collection_item(second.slug, f"2401.0000{i}", "paper")
        listed = [c for c in api.list_collections(owner=user, sort="lastModified", limit=100) if c.slug == second.slug]
        assert len(listed[0].items) == 4
        assert len(api.get_collection(second.slug).items) == 5
    finally:
        api.delete_collection(second.slug)


def test_private_collection(api, other_api, anon_api, user, collection, repo_name):
    private_repo = f"{user}/{repo_name}-private"
    api.create_repo(private_repo, private=True)
    api.update_collection_metadata(collection.slug, private=True)
    api.add_collection_item(collection.slug, private_repo, "model", note="secret")
    api.add_collection_item(collection.slug, "2307.09288", "paper")

    assert api.get_collection(collection.slug).private is True
    for other in (other_api, anon_api):
        with pytest.raises(HfHubHTTPError) as e:
            other.get_collection(collection.slug)
        assert e.value.response.status_code == 404
        assert collection.slug not in [c.slug for c in other.list_collections(owner=user, limit=100)]
        assert list(other.list_collections(item=f"models/{private_repo}")) == []
    # Others cannot change it either, and learn nothing from trying.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.delete_collection(collection.slug)
    assert e.value.response.status_code == 404

    # Made public, it is seen, without the item the others may not read.
    api.update_collection_metadata(collection.slug, private=False)
    seen = other_api.get_collection(collection.slug)
    assert [i.item_type for i in seen.items] == ["paper"]
    assert [i.item_type for i in api.get_collection(collection.slug).items] == ["model", "paper"]
    # Public but someone else's: bob may read it, not change it.
    with pytest.raises(HfHubHTTPError) as e:
        other_api.update_collection_metadata(collection.slug, title="Mine now")
    assert e.value.response.status_code == 403


def test_org_collection(api, other_api, org):
    c = api.create_collection(unique("Org picks"), namespace=org, private=True)
    try:
        assert c.slug.startswith(f"{org}/org-picks-")
        assert c.owner["name"] == org and c.owner["type"] == "org"
        # The organisation's full name, as on the Hub; organisations have no isPro.
        overview = get_session().get(f"{api.endpoint}/api/organizations/{org}/overview").json()
        assert c.owner["fullname"] == overview["fullname"] and "isPro" not in c.owner
        assert api.get_collection(c.slug).owner == c.owner
        with pytest.raises(HfHubHTTPError) as e:
            other_api.create_collection(unique("Not mine"), namespace=org)
        assert e.value.response.status_code == 403
        with pytest.raises(HfHubHTTPError) as e:
            other_api.get_collection(c.slug)
        assert e.value.response.status_code == 404
    finally:
        api.delete_collection(c.slug)


def test_delete_collection(api, anon_api):
    c = api.create_collection(unique("Short-lived"))
    with pytest.raises(HfHubHTTPError) as e:
        anon_api.delete_collection(c.slug)
    assert e.value.response.status_code == 401
    api.delete_collection(c.slug)
    with pytest.raises(HfHubHTTPError) as e:
        api.get_collection(c.slug)
    assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as e:
        api.delete_collection(c.slug)
    assert e.value.response.status_code == 404
    api.delete_collection(c.slug, missing_ok=True)


def test_collection_upvotes(api, anon_api, endpoint, token, other_token, user, collection):
    """Upvotes through the Hub's upvote route, read back and sorted on by the client."""
    other = api.create_collection(unique("Less cool stuff"))
    session = get_session()

    def upvote(method, slug, tok):
        headers = {"authorization": f"Bearer {tok}"} if tok else {}
        return session.request(method, f"{endpoint}/api/collections/{slug}/upvote", headers=headers)

    try:
        assert upvote("POST", collection.slug, None).status_code == 401
        for tok in (token, other_token, other_token):
            res = upvote("POST", collection.slug, tok)
            assert res.status_code == 200
        assert res.json() == {"upvotes": 2, "isUpvotedByUser": True}
        assert upvote("POST", other.slug, other_token).status_code == 200
        assert api.get_collection(collection.slug).upvotes == 2
        assert anon_api.get_collection(other.slug).upvotes == 1
        mine = session.get(f"{endpoint}/api/collections/{collection.slug}", headers={"authorization": f"Bearer {token}"}).json()
        assert mine["isUpvotedByUser"] is True
        assert session.get(f"{endpoint}/api/collections/{collection.slug}").json()["isUpvotedByUser"] is False

        ranked = [c.slug for c in api.list_collections(owner=user, sort="upvotes", limit=100)]
        assert ranked.index(collection.slug) < ranked.index(other.slug)
        assert upvote("DELETE", collection.slug, token).json() == {"upvotes": 1, "isUpvotedByUser": False}
        assert upvote("DELETE", collection.slug, other_token).json() == {"upvotes": 0, "isUpvotedByUser": False}
        ranked = [c.slug for c in api.list_collections(owner=user, sort="upvotes", limit=100)]
        assert ranked.index(other.slug) < ranked.index(collection.slug)
        assert upvote("POST", f"{user}/missing-0123456789abcdef01234567", token).status_code == 404
    finally:
        api.delete_collection(other.slug, missing_ok=True)


def test_create_collection_title_taken(api, other_api, collection):
    # An owner's titles are unique: the refusal names the collection that has
    # the title, which exists_ok=True returns unchanged.
    with pytest.raises(HfHubHTTPError) as e:
        api.create_collection(collection.title)
    assert e.value.response.status_code == 409
    assert e.value.response.json()["slug"] == collection.slug
    same = api.create_collection(collection.title, description="not applied", exists_ok=True)
    assert same.slug == collection.slug
    assert same.description == collection.description
    # Another owner may use the title. Without a description, there is none.
    theirs = other_api.create_collection(collection.title)
    try:
        assert theirs.slug != collection.slug
        assert theirs.description is None
    finally:
        other_api.delete_collection(theirs.slug)
